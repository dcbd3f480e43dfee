// The civetweb server over real loopback sockets: it answers with the
// handler's response, keeps no connection open, refuses an oversized
// request without calling the handler, and stops when destroyed. And the
// listen address parser.
#include "src/platform/real_http_server.h"

#include <atomic>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test/testing/http_get.h"

namespace cellar {
namespace {

using testing::HttpExchange;

TEST(RealHttpServerTest, AnswersWithTheHandlersResponse) {
  std::atomic<int> calls{0};
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      StartRealHttpServer("127.0.0.1:0", [&calls](const HttpRequest& request) {
        ++calls;
        HttpResponse response;
        if (request.method == "DELETE") {
          response.status = 405;
          response.allow = "GET";
        }
        response.content_type = "text/x-test";
        response.body = absl::StrCat(request.method, " ", request.path, "\n");
        return response;
      });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  const std::string ok =
      HttpExchange(port, "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(ok, "HTTP/1.1 200 OK\r\n")) << ok;
  EXPECT_TRUE(absl::StrContains(ok, "Content-Type: text/x-test\r\n")) << ok;
  EXPECT_TRUE(absl::StrContains(ok, "Content-Length: 13\r\n")) << ok;
  EXPECT_TRUE(absl::StrContains(ok, "Connection: close\r\n")) << ok;
  EXPECT_TRUE(absl::EndsWith(ok, "\r\n\r\nGET /metrics\n")) << ok;

  const std::string refused =
      HttpExchange(port, "DELETE /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(refused, "HTTP/1.1 405 Method Not Allowed\r\n"))
      << refused;
  EXPECT_TRUE(absl::StrContains(refused, "Allow: GET\r\n")) << refused;
  EXPECT_EQ(calls.load(), 2);

  // A request larger than the server reads is refused before the handler.
  const std::string huge = absl::StrCat(
      "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Pad: ", std::string(64 << 10, 'a'),
      "\r\n\r\n");
  const std::string too_big = HttpExchange(port, huge);
  EXPECT_FALSE(absl::StartsWith(too_big, "HTTP/1.1 200"))
      << too_big.substr(0, 80);
  EXPECT_EQ(calls.load(), 2);

  // Destroyed: the port no longer answers.
  server->reset();
  EXPECT_EQ(HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n"),
            "connect failed");
}

TEST(RealHttpServerTest, ThePathIsAsSentAndNoMethodIsAnsweredByCivetweb) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      StartRealHttpServer("127.0.0.1:0", [](const HttpRequest& request) {
        HttpResponse response;
        response.body = request.method + " [" + request.path + "]\n";
        return response;
      });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  auto body = [port](const std::string& request_line) {
    const std::string reply =
        HttpExchange(port, request_line + "\r\nHost: a\r\n\r\n");
    const size_t at = reply.find("\r\n\r\n");
    return at == std::string::npos ? reply : reply.substr(at + 4);
  };
  EXPECT_EQ(body("GET /metrics HTTP/1.1"), "GET [/metrics]\n");
  EXPECT_EQ(body("GET //metrics HTTP/1.1"), "GET [//metrics]\n");
  EXPECT_EQ(body("GET /x/../metrics HTTP/1.1"), "GET [/x/../metrics]\n");
  // Absolute form: civetweb drops another host's at once, the handler
  // gets no path for its own (default authentication_domain).
  EXPECT_FALSE(absl::StrContains(
      body("GET http://example.com/metrics HTTP/1.1"), "[/metrics]"));
  EXPECT_FALSE(absl::StrContains(
      body(absl::StrCat("GET http://mydomain.com:", port, "/metrics HTTP/1.1")),
      "[/metrics]"));
  // A CORS preflight reaches the handler (civetweb answers none itself).
  const std::string preflight = HttpExchange(
      port,
      "OPTIONS /metrics HTTP/1.1\r\nHost: a\r\nOrigin: http://evil\r\n"
      "Access-Control-Request-Method: GET\r\n\r\n");
  EXPECT_TRUE(absl::StrContains(preflight, "OPTIONS [/metrics]")) << preflight;
  EXPECT_FALSE(absl::StrContains(preflight, "Access-Control-Allow-Origin"))
      << preflight;
}

TEST(RealHttpServerTest, IPv6IsRefusedClearlyWithoutSupport) {
  auto handler = [](const HttpRequest&) { return HttpResponse(); };
  absl::StatusOr<std::unique_ptr<HttpServer>> v6 =
      StartRealHttpServer("[::1]:0", handler);
  if (v6.ok()) GTEST_SKIP() << "this civetweb has IPv6";
  EXPECT_EQ(v6.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(v6.status().message(), "IPv6")) << v6.status();
}

TEST(RealHttpServerTest, APortInUseIsUnavailable) {
  auto handler = [](const HttpRequest&) { return HttpResponse(); };
  absl::StatusOr<std::unique_ptr<HttpServer>> first =
      StartRealHttpServer("127.0.0.1:0", handler);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<HttpServer>> second = StartRealHttpServer(
      absl::StrCat("127.0.0.1:", (*first)->port()), handler);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StartRealHttpServer("nonsense", handler).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseHttpAddressTest, Table) {
  struct Case {
    const char* text;
    bool ok;
    const char* host;
    bool ipv6;
    int port;
  };
  for (const Case& c : std::vector<Case>{
           {":9808", true, "", false, 9808},
           {"127.0.0.1:9808", true, "127.0.0.1", false, 9808},
           {"localhost:1", true, "127.0.0.1", false, 1},
           {"[::1]:9808", true, "::1", true, 9808},
           {"[::]:0", true, "::", true, 0},
           {"0.0.0.0:65535", true, "0.0.0.0", false, 65535},
           {"9808", false, "", false, 0},
           {"", false, "", false, 0},
           {":", false, "", false, 0},
           {":65536", false, "", false, 0},
           {":-1", false, "", false, 0},
           {":+80", false, "", false, 0},
           {":80 ", false, "", false, 0},
           {"example.com:80", false, "", false, 0},
           {"1.2.3:80", false, "", false, 0},
           {"[::1:80", false, "", false, 0},
           {"[zz]:80", false, "", false, 0},
           {"::1:80", false, "", false, 0},
       }) {
    absl::StatusOr<HttpAddress> parsed = ParseHttpAddress(c.text);
    EXPECT_EQ(parsed.ok(), c.ok) << c.text;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    EXPECT_EQ(parsed->host, c.host) << c.text;
    EXPECT_EQ(parsed->ipv6, c.ipv6) << c.text;
    EXPECT_EQ(parsed->port, c.port) << c.text;
  }
}

}  // namespace
}  // namespace cellar
