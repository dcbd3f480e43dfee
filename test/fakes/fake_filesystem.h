#ifndef CELLAR_TEST_FAKES_FAKE_FILESYSTEM_H_
#define CELLAR_TEST_FAKES_FAKE_FILESYSTEM_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/filesystem.h"

namespace cellar {

// An in-memory tree of files, directories, symlinks and device nodes rooted
// at "/". Parents must exist for every create, as on a real filesystem.
class FakeFileSystem final : public FileSystem {
 public:
  FakeFileSystem();
  FakeFileSystem(const FakeFileSystem&) = delete;
  FakeFileSystem& operator=(const FakeFileSystem&) = delete;

  // Test set-up helpers (parents are created as needed).
  void AddFile(const std::string& path, std::string content = "");
  void AddDevice(const std::string& path, uint64_t rdev);
  void AddSymlink(const std::string& path, std::string target);
  // What StatFs reports for every path.
  void SetFsStats(FsStats stats);

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

 private:
  struct Node {
    FileInfo info;
    std::string content;  // file data or symlink target
  };

  absl::Status MakeDirsLocked(const std::string& path, mode_t mode)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ParentIsDirLocked(const std::string& path) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // As the real walk: `path` strictly below `root`, no symlink below `root`.
  absl::Status CheckConfinedLocked(const std::string& root,
                                   const std::string& path) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Node> nodes_ ABSL_GUARDED_BY(mu_);
  FsStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAKE_FILESYSTEM_H_
