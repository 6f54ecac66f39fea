// ReplicaDriver: hold data messages and replies behind the batch they
// depend on; release them in order after the commit that stores it.
#include "driver/replica_driver.h"

#include <algorithm>
#include <memory>

namespace gossipkv {

ReplicaDriver::ReplicaDriver(Replica& replica, VersionedStore* store, Send send)
    : replica_(replica), store_(store), send_(std::move(send)) {}

bool ReplicaDriver::VouchesForNothing(const pb::PeerMessage& message) {
  switch (message.body_case()) {
    case pb::PeerMessage::kRumor:
    case pb::PeerMessage::kAeTreeLevel:
    case pb::PeerMessage::kAeKeyHashes:
    case pb::PeerMessage::kAeEntries:
    case pb::PeerMessage::kAeInSync:
    case pb::PeerMessage::kGcQuery:
    case pb::PeerMessage::kGcAck:
    case pb::PeerMessage::kGcCollected:
    case pb::PeerMessage::kReplicaWrite:
    case pb::PeerMessage::kReplicaAck:
    case pb::PeerMessage::kReadReply:
      return false;
    default:
      return true;
  }
}

bool ReplicaDriver::batch_pending() const {
  return store_ != nullptr && store_->batch().size() > 0;
}

uint64_t ReplicaDriver::needed_seq() const {
  return batch_pending() ? staged_seq_ + 1 : staged_seq_;
}

bool ReplicaDriver::commit_needed() const {
  return batch_pending() ||
         (!held_.empty() && held_.back().seq > staged_seq_) ||
         (!waiting_.empty() && waiting_.back().seq > staged_seq_);
}

void ReplicaDriver::Route(Outbox& out) {
  // A message may describe any change made before it (an anti-entropy
  // reply reads through the batch, a GC ack may adopt a grave): it waits
  // for the commit that holds them, and so does everything after it, to
  // keep the order.
  for (auto& o : out) {
    if (VouchesForNothing(o.message)) {
      send_(o);
      continue;
    }
    uint64_t seq = needed_seq();
    if (!held_.empty()) seq = std::max(seq, held_.back().seq);
    if (seq > durable_seq_) {
      ++stats_.messages_held;
      held_.push_back(Hold(seq, o));
    } else if (!ready_.empty()) {
      ready_.push_back(Hold(seq, o));
    } else {
      send_(o);
    }
  }
  out.clear();
}

uint64_t ReplicaDriver::HeldBytes(const std::string& address) const {
  auto it = held_bytes_.find(address);
  return it == held_bytes_.end() ? 0 : it->second;
}

ReplicaDriver::HeldMessage ReplicaDriver::Hold(uint64_t seq, Outgoing& o) {
  const uint64_t bytes = o.message.ByteSizeLong() + 4;
  held_bytes_[o.to] += bytes;
  return {seq, bytes, std::move(o)};
}

void ReplicaDriver::Uncount(const HeldMessage& h) {
  auto it = held_bytes_.find(h.message.to);
  if (it == held_bytes_.end()) return;
  it->second -= std::min(it->second, h.bytes);
  if (it->second == 0) held_bytes_.erase(it);
}

void ReplicaDriver::Tick(int64_t now_ms) {
  now_ms_ = now_ms;
  Outbox out;
  replica_.Tick(now_ms, out);
  Route(out);
}

void ReplicaDriver::Step(int64_t now_ms, const std::string& reply_to,
                         const pb::PeerMessage& message) {
  now_ms_ = now_ms;
  Outbox out;
  replica_.Step(now_ms, reply_to, message, out);
  Route(out);
}

void ReplicaDriver::StartAntiEntropy(int64_t now_ms,
                                     const std::string& address) {
  Outbox out;
  replica_.StartAntiEntropy(now_ms, address, out);
  Route(out);
}

void ReplicaDriver::Leave(int64_t now_ms) {
  Outbox out;
  replica_.Leave(now_ms, out);
  Route(out);
}

Status ReplicaDriver::Forget(const std::string& node_id) {
  return replica_.Forget(node_id);
}

void ReplicaDriver::WhenReplicated(std::vector<std::string> keys,
                                   uint32_t quorum,
                                   Coordinator::Completion done) {
  if (quorum <= 1 || keys.empty()) {
    WhenDurable(
        [done = std::move(done)](const Status& stored) { done(stored, {}); });
    return;
  }
  WhenDurable([this, keys = std::move(keys), quorum,
               done = std::move(done)](const Status& stored) mutable {
    if (!stored.ok()) {
      done(stored, {});
      return;
    }
    // The entries sent are read now: what they carry beyond this write is
    // in the batch being gathered, and Route holds them for its commit.
    Outbox out;
    if (clock_) now_ms_ = std::max(now_ms_, clock_());
    replica_.Replicate(now_ms_, keys, quorum, std::move(done), out);
    Route(out);
  });
}

void ReplicaDriver::Read(int64_t now_ms, std::vector<std::string> keys,
                         uint32_t quorum, ReadCompletion done) {
  now_ms_ = std::max(now_ms_, now_ms);
  Outbox out;
  // This node's part is read through the batch now: the commit that holds
  // it decides, even when the owners answer only after it failed.
  auto local = std::make_shared<Status>();
  WhenDurable([local](const Status& stored) { *local = stored; });
  replica_.Read(
      now_ms_, keys, quorum,
      [this, local,
       done = std::move(done)](std::vector<KeyRead> reads) mutable {
        // The reply waits until what was read is durable.
        WhenDurable([local, done = std::move(done),
                     reads = std::move(reads)](const Status& stored) mutable {
          done(stored.ok() ? *local : stored, std::move(reads));
        });
      },
      out);
  Route(out);
}

void ReplicaDriver::WhenDurable(Completion done) {
  const uint64_t seq = needed_seq();
  if (seq <= durable_seq_) {
    done(Status::Ok());
    return;
  }
  waiting_.push_back({seq, std::move(done)});
}

Status ReplicaDriver::Commit() {
  Status status = Persist();
  SendReady();
  AckReady();
  return status;
}

Status ReplicaDriver::Persist() {
  if (in_flight_)
    return Status::InvalidArgument("a commit is already being written");
  // Nothing to write: what waited has been sent and completed already.
  if (!StartCommit()) return ready_status_;
  Status written = store_->engine().Write(store_->staged());
  Persisted(written);
  return written;
}

bool ReplicaDriver::StartCommit() {
  // What an earlier commit made ready leaves first, with its own status.
  SendReady();
  AckReady();
  ++staged_seq_;
  in_flight_ = true;
  if (store_ != nullptr && store_->reload_needed()) {
    // Memory is partial (a reload failed): what was computed from it fails,
    // and the reload is tried again.
    EndWithoutWrite(
        Status::IOError("the store's memory is being rebuilt from disk"));
    (void)store_->ReloadFromDisk();
    return false;
  }
  // The engine refuses writes: the batch fails without moving memory.
  if (store_ != nullptr && batch_pending()) {
    if (Status writable = store_->engine().Writable(); !writable.ok())
      return EndWithoutWrite(writable);
  }
  if (store_ != nullptr) {
    // Stage cannot be refused: only Persisted() ends a staged batch, and
    // it runs before the next StartCommit().
    (void)store_->batch().Stage();
    // The rumors of what this commit changes go before everything that
    // waited for it (nothing held is older: it left with earlier commits).
    Outbox rumors;
    replica_.FlushRumors(rumors);
    std::vector<HeldMessage> held;
    held.reserve(rumors.size() + held_.size());
    for (auto& r : rumors) held.push_back(Hold(staged_seq_, r));
    for (auto& h : held_) held.push_back(std::move(h));
    held_ = std::move(held);
  }
  if (store_ != nullptr && store_->has_staged()) return true;
  return EndWithoutWrite(Status::Ok());
}

bool ReplicaDriver::EndWithoutWrite(const Status& status) {
  Persisted(status);
  SendReady();
  AckReady();
  return false;
}

void ReplicaDriver::Persisted(const Status& written) {
  in_flight_ = false;
  durable_seq_ = staged_seq_;
  if (store_ != nullptr && store_->has_staged()) {
    // On failure the store discards the changes gathered since and
    // rebuilds its memory from the disk. A reload that fails too is done
    // again once the engine takes writes again (server/node.h).
    (void)store_->Written(written);
  }
  ready_status_ = written;
  if (written.ok()) {
    ++stats_.commits;
    size_t n = 0;
    for (; n < held_.size() && held_[n].seq <= durable_seq_; ++n)
      ready_.push_back(std::move(held_[n]));
    held_.erase(held_.begin(), held_.begin() + n);
    n = 0;
    for (; n < waiting_.size() && waiting_[n].seq <= durable_seq_; ++n)
      ready_waiting_.push_back(std::move(waiting_[n].done));
    waiting_.erase(waiting_.begin(), waiting_.begin() + n);
    return;
  }
  // Everything held depends on this commit or on changes computed from it,
  // and so may what the replica built from memory and still holds itself.
  if (store_ != nullptr) store_->batch().Discard();
  replica_.OnCommitFailed();
  ++stats_.commit_failures;
  stats_.messages_dropped += held_.size();
  for (const auto& h : held_) Uncount(h);
  held_.clear();
  for (auto& w : waiting_) ready_waiting_.push_back(std::move(w.done));
  waiting_.clear();
}

void ReplicaDriver::SendReady() {
  std::vector<HeldMessage> ready = std::move(ready_);
  ready_.clear();
  for (auto& h : ready) {
    Uncount(h);
    send_(h.message);
  }
}

void ReplicaDriver::AckReady() {
  std::vector<Completion> waiting = std::move(ready_waiting_);
  ready_waiting_.clear();
  for (auto& done : waiting) done(ready_status_);
}

Status ReplicaDriver::ResumeWrites() {
  if (store_ == nullptr) return Status::Ok();
  Engine& engine = store_->engine();
  if (engine.Writable().ok()) {
    if (!store_->reload_needed() || in_flight_) return Status::Ok();
    // A reload failed: the commit fails what was computed from partial
    // memory and tries the reload again.
    (void)Commit();
    return store_->reload_needed()
               ? Status::IOError("cannot rebuild the store's memory from disk")
               : Status::Ok();
  }
  if (in_flight_)
    return Status::InvalidArgument(
        "a commit is being written: resume after it");
  // Committed after the reopen, a change computed from memory that misses a
  // batch reported failed but stored would replace that batch's entries on
  // disk, and the reload would then hand out their dots again.
  if (commit_needed()) (void)Commit();
  GOSSIPKV_RETURN_IF_ERROR(engine.TryResume());
  return store_->ReloadFromDisk();
}

}  // namespace gossipkv
