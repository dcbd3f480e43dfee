#include "src/platform/real_http_server.h"

#include <civetweb.h>

#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/common/status_macros.h"

namespace cellar {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

class CivetHttpServer final : public HttpServer {
 public:
  explicit CivetHttpServer(HttpHandler handler)
      : handler_(std::move(handler)) {}
  CivetHttpServer(const CivetHttpServer&) = delete;
  CivetHttpServer& operator=(const CivetHttpServer&) = delete;
  ~CivetHttpServer() override {
    if (context_ != nullptr) mg_stop(context_);
  }

  absl::Status Start(const std::string& listening_port) {
    static std::once_flag library;
    std::call_once(library, [] { mg_init_library(0); });
    mg_callbacks callbacks = {};
    // civetweb's start-up errors (a port in use, a bad spec) are logged
    // at warning level: they explain a failed start.
    callbacks.log_message = [](const mg_connection* connection,
                               const char* message) {
      if (connection == nullptr) {
        spdlog::warn("metrics http: {}", message);
      } else {
        spdlog::debug("metrics http: {}", message);
      }
      return 1;
    };
    // No document_root: civetweb serves no files, only the handler.
    // A scraper sends its request at once: a connection that sends
    // nothing holds a worker for at most 2 s, and four workers serve while
    // some are held (the port should also be reachable only by the
    // monitoring system: docs/operations.md). No CORS answers of
    // civetweb's own: every method but GET is the handler's 405. No URL
    // decoding: the path is compared exactly as sent, so "/metrics%00"
    // (which decoding would cut at the NUL) is not "/metrics".
    const char* options[] = {"decode_url",
                             "no",
                             "listening_ports",
                             listening_port.c_str(),
                             "num_threads",
                             "4",
                             "enable_keep_alive",
                             "no",
                             "request_timeout_ms",
                             "2000",
                             "max_request_size",
                             "8192",
                             "access_control_allow_origin",
                             "",
                             "access_control_allow_methods",
                             "",
                             nullptr};
    context_ = mg_start(&callbacks, this, options);
    if (context_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve HTTP on ", listening_port,
                       " (address in use, or not an address of this host?)"));
    }
    mg_set_request_handler(context_, "/", &CivetHttpServer::Handle, this);
    mg_server_port ports[1] = {};
    if (mg_get_server_ports(context_, 1, ports) == 1) port_ = ports[0].port;
    return absl::OkStatus();
  }

  int port() const override { return port_; }

 private:
  static int Handle(mg_connection* connection, void* data) {
    auto* self = static_cast<CivetHttpServer*>(data);
    const mg_request_info* info = mg_get_request_info(connection);
    HttpRequest request;
    request.method =
        info->request_method != nullptr ? info->request_method : "";
    // The path as sent (neither decoded nor normalised): "//metrics" or
    // "/x/../metrics" is not "/metrics". An absolute-form request names
    // some host and gets no page.
    request.path = info->local_uri_raw != nullptr ? info->local_uri_raw : "";
    if (info->request_uri == nullptr || info->request_uri[0] != '/') {
      request.path.clear();
    }
    const HttpResponse response = self->handler_(request);
    std::string head =
        absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                     "\r\nContent-Type: ", response.content_type,
                     "\r\nContent-Length: ", response.body.size(),
                     "\r\nCache-Control: no-store\r\nConnection: close\r\n");
    if (!response.allow.empty()) {
      absl::StrAppend(&head, "Allow: ", response.allow, "\r\n");
    }
    head += "\r\n";
    mg_write(connection, head.data(), head.size());
    if (request.method != "HEAD") {
      mg_write(connection, response.body.data(), response.body.size());
    }
    return response.status;
  }

  const HttpHandler handler_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> StartRealHttpServer(
    const std::string& address, HttpHandler handler) {
  absl::StatusOr<HttpAddress> parsed = ParseHttpAddress(address);
  if (!parsed.ok()) return parsed.status();
  // Feature bit 8: IPv6 (Debian's build has none).
  if (parsed->ipv6 && mg_check_feature(8) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", address,
        "\": the civetweb library here has no IPv6 support; use an IPv4 "
        "address"));
  }
  // civetweb's spelling: "PORT", "IP:PORT" or "[IPv6]:PORT".
  std::string listening_port =
      parsed->host.empty() ? absl::StrCat(parsed->port)
      : parsed->ipv6       ? absl::StrCat("[", parsed->host, "]:", parsed->port)
                           : absl::StrCat(parsed->host, ":", parsed->port);
  auto server = std::make_unique<CivetHttpServer>(std::move(handler));
  ABSL_RETURN_IF_ERROR(server->Start(listening_port));
  return server;
}

}  // namespace cellar
