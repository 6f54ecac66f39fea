// Replica: routes ticks and messages to membership, rumors and anti-entropy,
// and turns the store's commits into rumors.
#include "replication/replica.h"

#include <algorithm>

namespace gossipkv {

Replica::Replica(pb::MemberState self, ReplicaOptions options, Random& random,
                 int64_t now_ms, VersionedStore* store)
    : membership_(std::move(self), std::move(options.membership), random,
                  now_ms),
      store_(store),
      ring_options_(options.ring) {
  if (store_ == nullptr) return;
  membership_.RestoreForgotten(store_->member_record().forgotten);
  membership_.RestoreMembers(store_->member_record().members, now_ms);
  scope_ = std::make_unique<PartitionScope>(
      options.partitioned_storage, membership_,
      [this]() -> const Ring& { return ring(); },
      store_->tree().shape().segment_bits);
  rumor_ = std::make_unique<RumorMonger>(*store_, membership_, random,
                                         options.rumor, stats_, scope_.get());
  options.anti_entropy.tombstone_gc = options.gc.interval_ms > 0;
  anti_entropy_ = std::make_unique<AntiEntropy>(*store_, membership_, random,
                                                options.anti_entropy, stats_,
                                                now_ms, scope_.get());
  collector_ = std::make_unique<TombstoneCollector>(
      *store_, membership_, random, options.gc, stats_, now_ms);
  coordinator_ = std::make_unique<Coordinator>(*store_, membership_, now_ms,
                                               options.coordinator, stats_);
  reader_ = std::make_unique<QuorumReader>(*store_, membership_, now_ms,
                                           options.coordinator, stats_);
  reader_->set_filling([this] { return anti_entropy_->PartlyFilled(); });
  handoff_ = std::make_unique<PartitionHandoff>(*store_, *scope_, *coordinator_,
                                                options.handoff, stats_);
  store_->set_commit_observer(
      [this](std::string_view key, std::string_view encoded, int origin) {
        // Client writes and news from rumors spread by rumor; what anti-entropy
        // repairs does not (the next session with anyone else carries it).
        if (!encoded.empty() && origin >= 0) {
          rumor_->Enqueue(key, encoded, static_cast<uint32_t>(origin));
        }
      });
}

const Ring& Replica::ring() {
  if (ring_built_ && ring_generation_ == membership_.generation()) return ring_;
  ring_built_ = true;
  ring_generation_ = membership_.generation();
  std::vector<std::string> ids = membership_.CurrentMemberIds();
  ids.push_back(membership_.self().node_id());
  std::sort(ids.begin(), ids.end());
  // Never empty (this node is in it), so the first call builds it.
  if (ids != ring_.members()) {
    ring_ = Ring(std::move(ids), ring_options_);
  }
  return ring_;
}

bool Replica::OwnsKey(std::string_view key) {
  return scope_ == nullptr || scope_->OwnsKey(key);
}

Replica::~Replica() {
  if (store_ != nullptr) store_->set_commit_observer(nullptr);
}

void Replica::Tick(int64_t now_ms, Outbox& out) {
  membership_.Tick(now_ms, out);
  if (store_ == nullptr) return;
  // A session with each member that became reachable: one chosen among
  // several can leave a healed partition divergent until the next periodic
  // session.
  for (const auto& id : membership_.TakeReachable()) {
    const std::string address = membership_.AddressOf(id);
    if (!address.empty()) anti_entropy_->StartWith(now_ms, address, out);
  }
  anti_entropy_->Tick(now_ms, out);
  collector_->Tick(now_ms, out);
  coordinator_->Tick(now_ms, out);
  handoff_->Tick(now_ms, out);
  reader_->Tick(now_ms, out);
  rumor_->Flush(out);
  SaveMemberRecord();
}

void Replica::Step(int64_t now_ms, const std::string& reply_to,
                   const pb::PeerMessage& message, Outbox& out) {
  // A forgotten member's data would bring back what was collected without
  // it: it is refused whatever it sends.
  if (membership_.Refuse(reply_to, message, out)) return;
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
    case pb::PeerMessage::kReplicaWrite:
      if (coordinator_)
        coordinator_->HandleWrite(ring(), reply_to, message, out);
      break;
    case pb::PeerMessage::kReplicaAck:
      if (coordinator_) coordinator_->HandleAck(message);
      break;
    case pb::PeerMessage::kReadRequest:
      if (reader_) reader_->HandleRequest(reply_to, message, out);
      break;
    case pb::PeerMessage::kReadReply:
      if (reader_) reader_->HandleReply(message, out);
      break;
    default:
      membership_.Handle(now_ms, reply_to, message, out);
      SaveMemberRecord();
  }
}

void Replica::OnCommitFailed() {
  if (anti_entropy_) anti_entropy_->DropQueued();
  if (coordinator_) coordinator_->OnCommitFailed();
  if (reader_) reader_->OnCommitFailed();
}

void Replica::FlushRumors(Outbox& out) {
  if (rumor_) rumor_->Flush(out);
}

void Replica::StartAntiEntropy(int64_t now_ms, const std::string& address,
                               Outbox& out) {
  if (anti_entropy_) anti_entropy_->StartWith(now_ms, address, out);
}

void Replica::Replicate(int64_t now_ms, const std::vector<std::string>& keys,
                        uint32_t quorum, Coordinator::Completion done,
                        Outbox& out) {
  if (!coordinator_) {
    done(Status::InvalidArgument("a node without a store coordinates nothing"),
         keys);
    return;
  }
  coordinator_->Replicate(now_ms, ring(), keys, quorum, std::move(done), out);
}

void Replica::Read(int64_t now_ms, const std::vector<std::string>& keys,
                   uint32_t quorum, QuorumReader::Completion done,
                   Outbox& out) {
  if (!reader_) {
    done(std::vector<KeyRead>(keys.size()));
    return;
  }
  reader_->Read(now_ms, ring(), keys, quorum, std::move(done), out);
}

void Replica::Leave(int64_t now_ms, Outbox& out) {
  membership_.Leave(now_ms, out);
}

Status Replica::Forget(const std::string& node_id) {
  const bool remembered =
      store_ != nullptr && store_->gc_members().count(node_id) > 0;
  GOSSIPKV_RETURN_IF_ERROR(membership_.Forget(node_id, remembered));
  SaveMemberRecord();
  return Status::Ok();
}

std::vector<std::string> Replica::GcBlockedBy() const {
  return collector_ ? collector_->BlockedBy() : std::vector<std::string>();
}

void Replica::SaveMemberRecord() {
  if (store_ == nullptr) return;
  MemberRecord record = store_->batch().member_record();
  // Stored at start (NextIncarnation), then moved by refutation; one this
  // node announces but could not store at start (a full disk) is stored as
  // soon as a commit succeeds.
  if (membership_.self().incarnation() > record.incarnation)
    record.incarnation = membership_.self().incarnation();
  record.forgotten = membership_.forgotten();
  record.members = membership_.CurrentMembers();
  if (record != store_->batch().member_record())
    store_->batch().SetMemberRecord(std::move(record));
}

uint64_t Replica::NextIncarnation(VersionedStore& store, Status* stored) {
  MemberRecord record = store.member_record();
  ++record.incarnation;
  const uint64_t incarnation = record.incarnation;
  Status status = Status::InvalidArgument(
      "changes are pending: the incarnation is stored before any");
  if (store.batch().size() == 0) {
    store.batch().SetMemberRecord(std::move(record));
    status = store.batch().Commit();
  }
  if (stored != nullptr) *stored = status;
  return incarnation;
}

}  // namespace gossipkv
