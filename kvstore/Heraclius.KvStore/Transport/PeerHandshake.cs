using System.Security.Cryptography;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// The statements both ends of a peer stream sign at open (see Protos/heraclius.proto). Each is
/// domain-separated and names both nodes and the other side's fresh nonce, so a signature proves
/// the key holder is present now, for this pair, in this role, and can be replayed nowhere else.
/// The two roles use different domains so that a listener can never be used to sign a dialer's
/// statement (a reflection attack).
/// <para>
/// Encoding (the project's canonical encoding): each string is a u32 little-endian byte count
/// followed by its UTF-8 bytes; the nonce is 32 raw bytes.
/// </para>
/// <code>
/// dialer statement   = str("heraclius-peer-v1")          ‖ str(dialer cluster id)   ‖ str(dialer node id)   ‖ str(listener node id) ‖ listener nonce
/// listener statement = str("heraclius-peer-v1-listener") ‖ str(listener cluster id) ‖ str(listener node id) ‖ str(dialer node id)   ‖ dialer nonce
/// </code>
/// </summary>
public static class PeerHandshake
{
    public const string DialerDomain = "heraclius-peer-v1";
    public const string ListenerDomain = "heraclius-peer-v1-listener";
    public const int NonceSize = 32;

    /// <summary>What the dialer signs to prove it holds <paramref name="dialerNodeId"/>'s key.</summary>
    public static byte[] DialerStatement(string dialerClusterId, string dialerNodeId, string listenerNodeId, ReadOnlySpan<byte> listenerNonce) =>
        Statement(DialerDomain, dialerClusterId, dialerNodeId, listenerNodeId, listenerNonce);

    /// <summary>What the listener signs to prove it holds <paramref name="listenerNodeId"/>'s key.</summary>
    public static byte[] ListenerStatement(string listenerClusterId, string listenerNodeId, string dialerNodeId, ReadOnlySpan<byte> dialerNonce) =>
        Statement(ListenerDomain, listenerClusterId, listenerNodeId, dialerNodeId, dialerNonce);

    internal static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceSize);

    internal static bool IsValidId(string id) =>
        id.Length > 0 && System.Text.Encoding.UTF8.GetByteCount(id) <= TransportLimits.MaxIdBytes;

    private static byte[] Statement(string domain, string clusterId, string signerNodeId, string otherNodeId, ReadOnlySpan<byte> nonce)
    {
        if (nonce.Length != NonceSize)
        {
            throw new ArgumentException($"a handshake nonce is {NonceSize} bytes", nameof(nonce));
        }

        var writer = new CanonicalWriter(128);
        writer.String(domain);
        writer.String(clusterId);
        writer.String(signerNodeId);
        writer.String(otherNodeId);
        writer.Fixed(nonce);
        return writer.ToArray();
    }
}
