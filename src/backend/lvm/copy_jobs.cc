#include "src/backend/lvm/copy_jobs.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cellar {

CopyJobs::~CopyJobs() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, job] : jobs_) {
      job->cancel = true;
      if (job->thread.joinable()) threads.push_back(std::move(job->thread));
    }
  }
  for (std::thread& thread : threads) thread.join();
}

void CopyJobs::Finish(Job* job, absl::Status status) {
  absl::MutexLock lock(&mu_);
  job->running = false;
  job->result = std::move(status);
  job->finished = absl::Now();
}

bool CopyJobs::Start(const std::string& key, const std::string& origin,
                     Work work, absl::Duration retry_after) {
  std::thread finished;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Job>& job = jobs_[key];
    if (job != nullptr) {
      if (job->running) return false;
      if (!job->result.ok() && absl::Now() - job->finished < retry_after) {
        return false;
      }
      // The thread of the last run has ended (it is not running): reap it.
      finished = std::move(job->thread);
    }
    job = std::make_shared<Job>();
    job->origin = origin;
    job->running = true;
    Job* raw = job.get();
    job->thread = std::thread([this, raw, work = std::move(work)] {
      absl::Status status = work(raw->cancel);
      Finish(raw, std::move(status));
    });
  }
  if (finished.joinable()) finished.join();
  return true;
}

absl::Status CopyJobs::Run(const std::string& key, const std::string& origin,
                           const Work& work) {
  Job* raw = nullptr;
  std::thread finished;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Job>& job = jobs_[key];
    if (job != nullptr && job->running) {
      return absl::AbortedError(
          absl::StrCat("a copy into ", key, " is already running"));
    }
    if (job != nullptr) finished = std::move(job->thread);
    job = std::make_shared<Job>();
    job->origin = origin;
    job->running = true;
    raw = job.get();
  }
  if (finished.joinable()) finished.join();
  absl::Status status = work(raw->cancel);
  Finish(raw, status);
  return status;
}

void CopyJobs::Cancel(const std::string& key) {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(key);
    if (it == jobs_.end()) {
      // Nothing ran: still, nothing may start until Forget.
      std::shared_ptr<Job>& job = jobs_[key];
      job = std::make_shared<Job>();
      job->result = absl::CancelledError("cancelled");
      job->finished = absl::Now();
      return;
    }
    std::shared_ptr<Job> job = it->second;
    job->cancel = true;
    // A job run in a caller's thread cannot be joined: wait for it.
    mu_.Await(absl::Condition(
        +[](Job* j) { return !j->running || j->thread.joinable(); },
        job.get()));
    thread = std::move(job->thread);
  }
  if (thread.joinable()) thread.join();
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it != jobs_.end() && !it->second->running) {
    // The tombstone: a failed result, fresh, so Start waits.
    it->second->result = absl::CancelledError("cancelled");
    it->second->finished = absl::Now();
  }
}

void CopyJobs::Forget(const std::string& key) {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(key);
    if (it == jobs_.end() || it->second->running) return;
    thread = std::move(it->second->thread);
    jobs_.erase(it);
  }
  if (thread.joinable()) thread.join();
}

bool CopyJobs::WaitFor(const std::string& key, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return true;
  std::shared_ptr<Job> job = it->second;
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](Job* j) { return !j->running; }, job.get()),
      timeout);
}

bool CopyJobs::AnyRunningFrom(const std::string& origin) const {
  for (const auto& [key, job] : jobs_) {
    if (job->running && job->origin == origin) return true;
  }
  return false;
}

bool CopyJobs::WaitForOrigin(const std::string& origin,
                             absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  struct Args {
    const CopyJobs* jobs;
    const std::string* origin;
  } args{this, &origin};
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    return !a->jobs->AnyRunningFrom(*a->origin);
                                  },
                                  &args),
                              timeout);
}

bool CopyJobs::Running(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  return it != jobs_.end() && it->second->running;
}

absl::Status CopyJobs::LastResult(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end() || it->second->running) return absl::OkStatus();
  return it->second->result;
}

}  // namespace cellar
