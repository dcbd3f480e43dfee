#ifndef CELLAR_TEST_TESTING_SHELL_H_
#define CELLAR_TEST_TESTING_SHELL_H_

#include <string>

namespace cellar::testing {

// What `command`, run by /bin/sh, prints on stdout (stderr is not
// captured); empty when it cannot be started. Its exit status is not
// looked at: callers compare the output. Blocks until the command exits.
std::string Shell(const std::string& command);

}  // namespace cellar::testing

#endif  // CELLAR_TEST_TESTING_SHELL_H_
