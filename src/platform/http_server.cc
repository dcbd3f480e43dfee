#include "src/platform/http_server.h"

#include <arpa/inet.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cellar {

absl::StatusOr<HttpAddress> ParseHttpAddress(absl::string_view address) {
  auto bad = [address](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", address, "\" ", why,
        " (want HOST:PORT, e.g. 127.0.0.1:9808, [::1]:9808 or :9808)"));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("has no port");
  HttpAddress out;
  const absl::string_view port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port, &out.port) || out.port > 65535) {
    return bad("has no valid port");
  }
  absl::string_view host = address.substr(0, colon);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("has a bad [IPv6]");
    host = host.substr(1, host.size() - 2);
    in6_addr ip6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &ip6) != 1) {
      return bad("has a bad IPv6 address");
    }
    out.ipv6 = true;
    out.host = std::string(host);
    return out;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (!host.empty()) {
    in_addr ip4;
    if (inet_pton(AF_INET, std::string(host).c_str(), &ip4) != 1) {
      return bad("needs an IP address, not a host name");
    }
  }
  out.host = std::string(host);
  return out;
}

}  // namespace cellar
