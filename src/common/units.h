#ifndef CELLAR_SRC_COMMON_UNITS_H_
#define CELLAR_SRC_COMMON_UNITS_H_

#include <cstdint>

namespace cellar {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_UNITS_H_
