#ifndef CELLAR_SRC_PLATFORM_MOUNTINFO_H_
#define CELLAR_SRC_PLATFORM_MOUNTINFO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellar {

// One line of /proc/self/mountinfo (see proc(5)), with octal escapes such as
// "\040" decoded in the path and source fields.
struct MountEntry {
  int mount_id = 0;
  int parent_id = 0;
  unsigned major = 0;
  unsigned minor = 0;
  std::string root;  // root of the mount within its filesystem
  std::string mount_point;
  std::string mount_options;                 // per-mount: "rw,nosuid,..."
  std::vector<std::string> optional_fields;  // "shared:1", "master:2", ...
  std::string fs_type;
  std::string source;
  std::string super_options;  // per-superblock options

  // True when `option` (e.g. "ro") is one of the per-mount options.
  bool HasMountOption(absl::string_view option) const;
};

// Decodes the kernel's octal escapes (\040 space, \011 tab, \012 newline,
// \134 backslash). Other backslashes are kept as they are.
std::string UnescapeMountField(absl::string_view field);

// Parses the whole text of a mountinfo file. A malformed line is an
// INVALID_ARGUMENT error naming the line number: the kernel never writes one,
// so it means the input is not mountinfo.
absl::StatusOr<std::vector<MountEntry>> ParseMountInfo(absl::string_view text);

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_MOUNTINFO_H_
