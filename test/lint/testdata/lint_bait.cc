// Not built: clang_tidy_test checks that .clang-tidy flags each of these.
#include <string>
#include <utility>

namespace cellar {

struct Wrapper {
  Wrapper(int value) : value(value) {}  // google-explicit-constructor
  int value;
};

std::string UseAfterMove(std::string text) {
  std::string taken = std::move(text);
  return taken + text;  // bugprone-use-after-move
}

}  // namespace cellar
