#ifndef CELLAR_SRC_PLATFORM_FILESYSTEM_H_
#define CELLAR_SRC_PLATFORM_FILESYSTEM_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellar {

enum class FileType { kRegular, kDirectory, kSymlink, kBlockDevice, kOther };

struct FileInfo {
  FileType type = FileType::kOther;
  mode_t mode = 0;  // permission bits, including setgid
  uint64_t size = 0;
  uint64_t device = 0;  // st_dev
  uint64_t rdev = 0;    // st_rdev, for device nodes
  gid_t gid = 0;
};

// statvfs(3) figures in bytes and inodes.
struct FsStats {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;       // f_bfree: including the root reserve
  uint64_t available_bytes = 0;  // f_bavail: what unprivileged writers get
  uint64_t total_inodes = 0;
  uint64_t free_inodes = 0;
};

// File and directory operations the driver needs. Paths are absolute.
// Every method is thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // lstat(2): symlinks are reported as kSymlink, not followed.
  // NOT_FOUND when the path does not exist.
  virtual absl::StatusOr<FileInfo> Stat(const std::string& path) = 0;

  // mkdir -p with `mode` for the directories it creates. An existing
  // directory is fine; an existing non-directory is FAILED_PRECONDITION.
  virtual absl::Status MakeDirs(const std::string& path, mode_t mode) = 0;

  // Removes an empty directory or a file (not recursive). A missing path is
  // fine; a non-empty directory is FAILED_PRECONDITION.
  virtual absl::Status Remove(const std::string& path) = 0;

  // Creates an empty regular file if none exists (existing: fine).
  virtual absl::Status CreateFile(const std::string& path, mode_t mode) = 0;

  // Whole-file read. NOT_FOUND when missing.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;

  // Replaces `path` atomically and durably: temp file in the same
  // directory, fsync, rename over `path`, fsync of the directory.
  virtual absl::Status WriteFileAtomic(const std::string& path,
                                       const std::string& content,
                                       mode_t mode) = 0;

  // Names in a directory (no "." or ".."), sorted. NOT_FOUND when missing.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& path) = 0;

  // statvfs(3) of the filesystem holding `path`.
  virtual absl::StatusOr<FsStats> StatFs(const std::string& path) = 0;

  // Makes `path` a regular file of at least `size` bytes, never shrinking
  // it: created with `mode` when missing (a symlink is refused), extended
  // with ftruncate (sparse), and when `allocate` its blocks are reserved
  // with fallocate so later writes cannot fail for lack of space. Synced to
  // disk before returning. RESOURCE_EXHAUSTED when the filesystem is full.
  virtual absl::Status EnsureFileSize(const std::string& path, uint64_t size,
                                      bool allocate, mode_t mode) = 0;

  // Copies the regular file `from` to `to` (replaced atomically: temp file,
  // fsync, rename) sharing blocks where the filesystem can (FICLONE
  // reflink), else copying only the data extents (SEEK_DATA/SEEK_HOLE with
  // copy_file_range), so holes stay holes. Returns the bytes physically
  // copied (0 for a reflink). RESOURCE_EXHAUSTED when space runs out.
  virtual absl::StatusOr<uint64_t> CopySparse(const std::string& from,
                                              const std::string& to,
                                              mode_t mode) = 0;

  // realpath(3): the absolute path with every symlink resolved. NOT_FOUND
  // when a component is missing.
  virtual absl::StatusOr<std::string> RealPath(const std::string& path) = 0;

  // Sets the group and mode of `path`, reached from the trusted directory
  // `root` without following any symlink, on the walked object itself (so
  // a path swapped meanwhile cannot redirect it). INVALID_ARGUMENT for a
  // symlink on the way, NOT_FOUND when missing.
  virtual absl::Status SetOwnerGroupMode(const std::string& root,
                                         const std::string& path, gid_t gid,
                                         mode_t mode) = 0;

  // MakeDirs and CreateFile for paths below the trusted directory `root`:
  // every component is reached (and made) without following a symlink, so
  // nothing is ever created outside `root`. INVALID_ARGUMENT for a symlink
  // on the way, FAILED_PRECONDITION for a component that is not a
  // directory. An existing directory or file is fine.
  virtual absl::Status MakeDirsBelow(const std::string& root,
                                     const std::string& path, mode_t mode) = 0;
  virtual absl::Status CreateFileBelow(const std::string& root,
                                       const std::string& path,
                                       mode_t mode) = 0;

  // Removes `path`, reached from `root` as above, when it is an empty
  // directory or an empty regular file (what a mount was made on). Missing:
  // fine. Anything else stays: FAILED_PRECONDITION.
  virtual absl::Status RemoveEmpty(const std::string& root,
                                   const std::string& path) = 0;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_FILESYSTEM_H_
