// Replica: routes ticks and messages to membership, rumors and anti-entropy,
// and turns the store's commits into rumors.
#include "replication/replica.h"

namespace gossipkv {

Replica::Replica(pb::MemberState self, ReplicaOptions options, Random& random,
                 int64_t now_ms, VersionedStore* store)
    : membership_(std::move(self), std::move(options.membership), random,
                  now_ms),
      store_(store) {
  if (store_ == nullptr) return;
  rumor_ = std::make_unique<RumorMonger>(*store_, membership_, random,
                                         options.rumor, stats_);
  options.anti_entropy.tombstone_gc = options.gc.interval_ms > 0;
  anti_entropy_ = std::make_unique<AntiEntropy>(
      *store_, membership_, random, options.anti_entropy, stats_, now_ms);
  collector_ = std::make_unique<TombstoneCollector>(
      *store_, membership_, random, options.gc, stats_, now_ms);
  store_->set_commit_observer(
      [this](std::string_view key, std::string_view encoded, int origin) {
        // Client writes and news from rumors spread by rumor; what anti-entropy
        // repairs does not (the next session with anyone else carries it).
        if (!encoded.empty() && origin >= 0) {
          rumor_->Enqueue(key, encoded, static_cast<uint32_t>(origin));
        }
      });
}

Replica::~Replica() {
  if (store_ != nullptr) store_->set_commit_observer(nullptr);
}

void Replica::Tick(int64_t now_ms, Outbox& out) {
  membership_.Tick(now_ms, out);
  if (store_ == nullptr) return;
  for (const auto& id : membership_.TakeReachable()) {
    const std::string address = membership_.AddressOf(id);
    if (!address.empty()) anti_entropy_->StartWith(now_ms, address, out);
  }
  anti_entropy_->Tick(now_ms, out);
  collector_->Tick(now_ms, out);
  rumor_->Flush(out);
}

void Replica::Step(int64_t now_ms, const std::string& reply_to,
                   const pb::PeerMessage& message, Outbox& out) {
  switch (message.body_case()) {
    case pb::PeerMessage::kRumor:
      if (rumor_) rumor_->Handle(message);
      break;
    case pb::PeerMessage::kAeTreeLevel:
    case pb::PeerMessage::kAeKeyHashes:
    case pb::PeerMessage::kAeEntries:
    case pb::PeerMessage::kAeInSync:
      if (anti_entropy_) anti_entropy_->Handle(now_ms, reply_to, message, out);
      break;
    case pb::PeerMessage::kGcQuery:
    case pb::PeerMessage::kGcAck:
    case pb::PeerMessage::kGcCollected:
      if (collector_) collector_->Handle(reply_to, message, out);
      break;
    default:
      membership_.Handle(now_ms, reply_to, message, out);
  }
}

void Replica::FlushRumors(Outbox& out) {
  if (rumor_) rumor_->Flush(out);
}

void Replica::StartAntiEntropy(int64_t now_ms, const std::string& address,
                               Outbox& out) {
  if (anti_entropy_) anti_entropy_->StartWith(now_ms, address, out);
}

void Replica::Leave(int64_t now_ms, Outbox& out) {
  membership_.Leave(now_ms, out);
}

}  // namespace gossipkv
