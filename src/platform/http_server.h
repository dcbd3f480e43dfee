#ifndef CELLAR_SRC_PLATFORM_HTTP_SERVER_H_
#define CELLAR_SRC_PLATFORM_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellar {

// A request as the handler sees it: the method and the path (without the
// query string).
struct HttpRequest {
  std::string method;
  std::string path;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  // the Allow header of a 405, empty otherwise
};

// Runs on one of the server's threads; must be thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A listening HTTP server. Destroying it stops it: it accepts nothing more
// and waits for the requests being served.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // The TCP port it listens on (the one the kernel chose for port 0).
  virtual int port() const = 0;
};

// Starts an HTTP/1.1 server on `address` that answers every request with
// `handler`, on a small fixed pool of threads of its own (never the
// caller's), reading at most a few KiB of each request. INVALID_ARGUMENT
// for a bad address, UNAVAILABLE when it cannot listen there.
using HttpServerFactory =
    std::function<absl::StatusOr<std::unique_ptr<HttpServer>>(
        const std::string& address, HttpHandler handler)>;

// A listen address "HOST:PORT": HOST an IPv4 literal, "[IPv6 literal]",
// "localhost", or empty (every interface); PORT 0..65535.
struct HttpAddress {
  std::string host;  // "" for every interface; IPv6 without brackets
  bool ipv6 = false;
  int port = 0;
};
// INVALID_ARGUMENT naming what is wrong. Pure.
absl::StatusOr<HttpAddress> ParseHttpAddress(absl::string_view address);

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_HTTP_SERVER_H_
