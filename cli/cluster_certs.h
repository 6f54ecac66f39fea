// ClusterCertificates: a CA and one certificate per node for a local
// cluster's mutual TLS (`gossipkv cluster start --tls`), made with the
// openssl command. Node nK's certificate names nK (subject alternative
// name DNS:nK and common name), as peer.tls requires; keys are RSA 2048,
// valid 365 days. Called by LocalCluster::Start only.
#pragma once

#include <string>

#include "util/status.h"

namespace gossipkv {

// Writes <dir>/ca.{key,crt} unless they exist, and <dir>/<node>.{key,crt}
// for each of `nodes` that lacks them, so a restarted cluster keeps its
// certificates and a grown one gets new ones from the same CA.
Status MakeClusterCertificates(const std::string& dir, int nodes);

// The [peer] lines that turn mutual TLS on for `node` with those files.
std::string PeerTlsToml(const std::string& dir, const std::string& node);

}  // namespace gossipkv
