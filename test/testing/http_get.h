#ifndef CELLAR_TEST_TESTING_HTTP_GET_H_
#define CELLAR_TEST_TESTING_HTTP_GET_H_

#include <string>

namespace cellar::testing {

// Sends `request` (raw HTTP) to 127.0.0.1:`port` and returns everything the
// server sends until it closes the connection (10 s receive time-out);
// "connect failed" when nothing listens there.
std::string HttpExchange(int port, const std::string& request);

// The response to `GET path HTTP/1.1` on 127.0.0.1:`port`.
std::string HttpGet(int port, const std::string& path);

}  // namespace cellar::testing

#endif  // CELLAR_TEST_TESTING_HTTP_GET_H_
