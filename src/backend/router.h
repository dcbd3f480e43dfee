#ifndef CELLAR_SRC_BACKEND_ROUTER_H_
#define CELLAR_SRC_BACKEND_ROUTER_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "src/backend/backend.h"
#include "src/common/ids.h"

namespace cellar {

// Finds the backend an id belongs to on this node, from the id alone: its
// kind, node and device class. Shared by the Controller and Node services.
// Immutable, so thread-safe.
class BackendRouter final {
 public:
  BackendRouter(const std::string& node_id,
                std::map<std::string, Backend*> backends);

  // The backend of `id` when it is a well-formed id of `kind`, of this node,
  // in a class this node has; NOT_FOUND saying which of these failed.
  absl::StatusOr<Backend*> Find(const std::string& id, IdKind kind) const;

 private:
  const std::string node_tag_;
  const std::map<std::string, Backend*> backends_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_ROUTER_H_
