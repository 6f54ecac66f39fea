// PeerStream: the byte stream of one peer connection over the socket its
// record owns — plaintext, or TLS (Asio's SSL stream over OpenSSL) once
// StartTls is called — with the checks mutual TLS adds: the peer's
// certificate chains to the cluster CA (the context's verify mode), and
// names the node id the peer's handshake claims. Used by PeerTransport's
// connection records (server/peer_connections.h) only, on the io_context
// thread.
#pragma once

#include <openssl/x509v3.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <optional>
#include <string_view>

#include "server/tls_io.h"

namespace gossipkv {

class PeerStream {
 public:
  using tcp = asio::ip::tcp;
  explicit PeerStream(tcp::socket& socket) : socket_(socket) {}

  // A new TLS session on the socket (each connection has its own).
  void StartTls(asio::ssl::context& context) { tls_.emplace(socket_, context); }
  // Plaintext from now on (a new connection after a TLS one).
  void Plain() { tls_.reset(); }
  bool tls() const { return tls_.has_value(); }

  asio::awaitable<void> Handshake(asio::ssl::stream_base::handshake_type side,
                                  asio::error_code& ec) {
    co_await tls_->async_handshake(
        side, asio::redirect_error(asio::use_awaitable, ec));
  }
  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buffer,
                                   asio::error_code& ec) {
    return ReadSomeFrom(tls_, socket_, buffer, ec);
  }
  asio::awaitable<void> Write(asio::const_buffer buffer, asio::error_code& ec) {
    return WriteAllTo(tls_, socket_, buffer, ec);
  }

  // Under TLS: whether the peer's certificate (already verified against
  // the CA) names `node_id` exactly, byte for byte: as a DNS subject
  // alternative name or, when it has none, as its common name. Plaintext
  // names no one.
  bool CertificateNames(std::string_view node_id) {
    if (!tls_) return false;
    X509* cert = SSL_get1_peer_certificate(tls_->native_handle());
    if (cert == nullptr) return false;
    auto same = [&](const ASN1_STRING* name) {
      return name != nullptr &&
             std::string_view(
                 reinterpret_cast<const char*>(ASN1_STRING_get0_data(name)),
                 static_cast<size_t>(ASN1_STRING_length(name))) == node_id;
    };
    bool named = false, has_dns = false;
    int critical = -1;  // -1: no such extension; else present (or bad)
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr));
    if (names == nullptr && critical != -1) {  // duplicated or undecodable
      X509_free(cert);
      return false;
    }
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_DNS) continue;
      has_dns = true;
      named = named || same(name->d.dNSName);
    }
    GENERAL_NAMES_free(names);
    if (!has_dns) {
      X509_NAME* subject = X509_get_subject_name(cert);
      const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
      // Exactly one common name.
      if (at >= 0 &&
          X509_NAME_get_index_by_NID(subject, NID_commonName, at) < 0)
        named =
            same(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
    }
    X509_free(cert);
    return named;
  }

 private:
  tcp::socket& socket_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
};

}  // namespace gossipkv
