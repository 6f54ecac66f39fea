#!/usr/bin/env bash
# Writes the seed corpus of replica_step_fuzz: streams of peer frames
# (u32 big-endian length ++ PeerMessage) of every replication message type,
# encoded from text with protoc. Run from the repository root; the output is
# committed, so this is needed only when the protocol changes.
set -euo pipefail
out=tests/fuzz/replica_corpus
encode() {  # encode <message type> <text>: binary protobuf on stdout
  protoc -Iproto --encode="gossipkv.pb.$1" proto/peer.proto proto/entry.proto <<<"$2"
}
# Entry bytes as a protobuf text-format string literal.
entry_literal() {
  encode Entry "$1" | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g'
}
frame() {  # frame <PeerMessage text>
  local body
  body=$(mktemp)
  encode PeerMessage "$1" >"$body"
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' \
    $(( $(stat -c%s "$body") >> 24 & 255 )) $(( $(stat -c%s "$body") >> 16 & 255 )) \
    $(( $(stat -c%s "$body") >> 8 & 255 )) $(( $(stat -c%s "$body") & 255 )))"
  cat "$body"
  rm -f "$body"
}
value=$(entry_literal 'clock { node: "n2" epoch: 7 counter: 1 }
  siblings { node: "n2" epoch: 7 counter: 1 timestamp_ms: 5 value: "v" }')
tombstone=$(entry_literal 'clock { node: "n2" epoch: 7 counter: 2 }
  siblings { node: "n2" epoch: 7 counter: 2 timestamp_ms: 6 tombstone: true }')
{
  frame "from: \"n2\" rumor { hops: 1 entries { key: \"c\" entry: \"$value\" } }"
  frame "from: \"n2\" rumor { hops: 1 entries { key: \"c\" entry: \"$tombstone\" } }"
} >"$out/rumor_then_delete"
{
  frame 'from: "n2" ae_tree_level { session: 9 level: 0 hashes: 1 segment_bits: 4 fanout_bits: 2 key_count: 3 }'
  frame 'from: "n2" ae_tree_level { session: 9 level: 1 parents: 0 hashes: [1, 2, 3, 4] }'
  frame 'from: "n2" ae_key_hashes { session: 9 segments: [0, 5] key_hashes: [11, 12] entry_hashes: [21, 22] }'
  frame "from: \"n2\" ae_entries { session: 9 entries { key: \"a\" entry: \"$tombstone\" } wanted: [11] reply: true }"
  frame 'from: "n2" ae_in_sync { session: 9 }'
} >"$out/ae_session"
{
  frame "from: \"n2\" gc_query { round: 3 tombstones { key: \"b\" entry: \"$tombstone\" } tombstones { key: \"z\" entry: \"$tombstone\" } tombstones { key: \"a\" entry: \"$value\" } }"
  frame 'from: "n2" gc_ack { round: 3 covered: [0, 0, 7] }'
  frame "from: \"n2\" ae_entries { session: 4 entries { key: \"b\" entry: \"$value\" } }"
  frame 'from: "n2" gc_collected { keys: ["b", "a"] entry_hashes: [5, 6] }'
} >"$out/gc_round"
