#ifndef CELLAR_SRC_PLATFORM_REAL_BLOCK_COPIER_H_
#define CELLAR_SRC_PLATFORM_REAL_BLOCK_COPIER_H_

#include "src/platform/block_copier.h"

namespace cellar {

// BlockCopier with pread/pwrite on O_DIRECT descriptors and an aligned
// buffer per copy.
class RealBlockCopier final : public BlockCopier {
 public:
  RealBlockCopier() = default;
  RealBlockCopier(const RealBlockCopier&) = delete;
  RealBlockCopier& operator=(const RealBlockCopier&) = delete;

  absl::StatusOr<uint64_t> Copy(const std::string& from, const std::string& to,
                                const std::vector<ByteRange>& ranges,
                                const CopyOptions& options) override;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_BLOCK_COPIER_H_
