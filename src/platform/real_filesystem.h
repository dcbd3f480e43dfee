#ifndef CELLAR_SRC_PLATFORM_REAL_FILESYSTEM_H_
#define CELLAR_SRC_PLATFORM_REAL_FILESYSTEM_H_

#include "src/platform/filesystem.h"

namespace cellar {

// The host's files through POSIX calls.
class RealFileSystem final : public FileSystem {
 public:
  RealFileSystem() = default;
  RealFileSystem(const RealFileSystem&) = delete;
  RealFileSystem& operator=(const RealFileSystem&) = delete;

  absl::StatusOr<FileInfo> Stat(const std::string& path) override;
  absl::Status MakeDirs(const std::string& path, mode_t mode) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status CreateFile(const std::string& path, mode_t mode) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  absl::Status WriteFileAtomic(const std::string& path,
                               const std::string& content,
                               mode_t mode) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& path) override;
  absl::StatusOr<FsStats> StatFs(const std::string& path) override;
  absl::Status EnsureFileSize(const std::string& path, uint64_t size,
                              bool allocate, mode_t mode) override;
  absl::StatusOr<uint64_t> CopySparse(const std::string& from,
                                      const std::string& to,
                                      mode_t mode) override;
  absl::StatusOr<std::string> RealPath(const std::string& path) override;
  absl::Status SetOwnerGroupMode(const std::string& root,
                                 const std::string& path, gid_t gid,
                                 mode_t mode) override;
  absl::Status RemoveEmpty(const std::string& root,
                           const std::string& path) override;
  absl::Status MakeDirsBelow(const std::string& root, const std::string& path,
                             mode_t mode) override;
  absl::Status CreateFileBelow(const std::string& root, const std::string& path,
                               mode_t mode) override;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_FILESYSTEM_H_
