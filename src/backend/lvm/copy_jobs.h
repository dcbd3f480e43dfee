#ifndef CELLAR_SRC_BACKEND_LVM_COPY_JOBS_H_
#define CELLAR_SRC_BACKEND_LVM_COPY_JOBS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cellar {

// The copies of one backend that are running now, each under a key (the
// LV it fills) and its source (the LV it reads from). Only what runs in this
// process: what is to be copied is recorded in LV tags, and a restarted
// driver starts the copies again from them. Thread-safe.
class CopyJobs final {
 public:
  // The copy itself; it stops soon (CANCELLED) once `cancel` turns true.
  using Work = std::function<absl::Status(const std::atomic<bool>& cancel)>;

  CopyJobs() = default;
  CopyJobs(const CopyJobs&) = delete;
  CopyJobs& operator=(const CopyJobs&) = delete;
  // Cancels every job and waits for them.
  ~CopyJobs();

  // Starts `work` on a thread of its own unless a job for `key` is running,
  // or failed less than `retry_after` ago. True when it started it.
  bool Start(const std::string& key, const std::string& origin, Work work,
             absl::Duration retry_after = absl::Seconds(10));
  // Runs `work` in the calling thread, seen by Cancel and the waits like a
  // started job. ABORTED when a job for `key` is running already.
  absl::Status Run(const std::string& key, const std::string& origin,
                   const Work& work);
  // Cancels the job for `key`, if any, and waits until it has stopped. Until
  // Forget(key), Start refuses `key` for `retry_after` (a caller that read
  // a stale listing must not start it again while its LV is removed).
  void Cancel(const std::string& key);
  // Drops what is known of `key` once nothing runs for it.
  void Forget(const std::string& key);
  // Waits at most `timeout` for the job of `key` (or every job whose source
  // is `origin`) to stop. True when none is running.
  bool WaitFor(const std::string& key, absl::Duration timeout);
  bool WaitForOrigin(const std::string& origin, absl::Duration timeout);
  bool Running(const std::string& key) const;
  // How the last finished run for `key` ended (OK when none did).
  absl::Status LastResult(const std::string& key) const;

 private:
  struct Job {
    std::string origin;
    bool running = false;
    absl::Status result;
    absl::Time finished;
    std::atomic<bool> cancel{false};
    std::thread thread;  // empty for Run
  };

  // Marks `job` as having finished with `status`.
  void Finish(Job* job, absl::Status status);
  bool AnyRunningFrom(const std::string& origin) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // Shared with the calls waiting on a job, which a later Start may
  // replace in the map meanwhile.
  std::map<std::string, std::shared_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_LVM_COPY_JOBS_H_
