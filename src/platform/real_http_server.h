#ifndef CELLAR_SRC_PLATFORM_REAL_HTTP_SERVER_H_
#define CELLAR_SRC_PLATFORM_REAL_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "src/platform/http_server.h"

namespace cellar {

// An HttpServerFactory over civetweb (Debian's libcivetweb): four worker
// threads, no keep-alive, requests of at most 8 KiB, 2 s to send one, no
// files served, no CORS answers of its own, the path handed on as sent
// (decoded, not normalised). INVALID_ARGUMENT for an IPv6 address when the
// library has no IPv6.
absl::StatusOr<std::unique_ptr<HttpServer>> StartRealHttpServer(
    const std::string& address, HttpHandler handler);

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_HTTP_SERVER_H_
