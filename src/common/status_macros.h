#ifndef CELLAR_SRC_COMMON_STATUS_MACROS_H_
#define CELLAR_SRC_COMMON_STATUS_MACROS_H_

// The early-return macros of upstream Abseil, with their names and semantics,
// for the Abseil release Debian ships, which predates them. Where the
// installed Abseil defines them, its definitions are used.
//
//   ABSL_RETURN_IF_ERROR(expr);
//     `expr` is an absl::Status; when it is not OK, the enclosing function
//     returns it (a function returning absl::StatusOr<T> converts it).
//
//   ABSL_ASSIGN_OR_RETURN(lhs, expr);
//     `expr` is an absl::StatusOr<T>; when it is not OK, the enclosing
//     function returns its status, otherwise its value is moved into `lhs`,
//     which may be a declaration (`T value`) or an existing variable. `lhs`
//     must not contain an unparenthesised comma. Expands to several
//     statements: do not use it as the body of an unbraced `if`.

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#ifndef ABSL_RETURN_IF_ERROR
#define ABSL_RETURN_IF_ERROR(expr)                               \
  do {                                                           \
    ::absl::Status cellar_status_macros_status = (expr);         \
    if (ABSL_PREDICT_FALSE(!cellar_status_macros_status.ok())) { \
      return cellar_status_macros_status;                        \
    }                                                            \
  } while (false)
#endif

#ifndef ABSL_ASSIGN_OR_RETURN
#define CELLAR_STATUS_MACROS_CONCAT_INNER(a, b) a##b
#define CELLAR_STATUS_MACROS_CONCAT(a, b) \
  CELLAR_STATUS_MACROS_CONCAT_INNER(a, b)
#define CELLAR_STATUS_MACROS_ASSIGN_OR_RETURN(temp, lhs, expr) \
  auto temp = (expr);                                          \
  if (ABSL_PREDICT_FALSE(!temp.ok())) return temp.status();    \
  lhs = *std::move(temp)
#define ABSL_ASSIGN_OR_RETURN(lhs, expr)                                       \
  CELLAR_STATUS_MACROS_ASSIGN_OR_RETURN(                                       \
      CELLAR_STATUS_MACROS_CONCAT(cellar_status_macros_value_, __LINE__), lhs, \
      expr)
#endif

#endif  // CELLAR_SRC_COMMON_STATUS_MACROS_H_
