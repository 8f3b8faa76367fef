using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;
using Heraclius.KvStore.Transport.Grpc;
using PeerRpc = Heraclius.KvStore.Transport.Grpc.Peer;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>A hand-driven Peer.Connect call, for playing a dialer that breaks the protocol on purpose.</summary>
internal sealed class RawPeerCall : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly AsyncDuplexStreamingCall<PeerFrame, PeerFrame> _call;

    public RawPeerCall(string endpoint)
    {
        _channel = GrpcChannel.ForAddress(endpoint);
        _call = new PeerRpc.PeerClient(_channel).Connect(cancellationToken: TestContext.Current.CancellationToken);
    }

    public byte[] Nonce { get; } = new byte[PeerHandshake.NonceSize];

    /// <summary>
    /// Writes a frame. The listener may already have ended the call (that is what most tests
    /// provoke), so a failed write is ignored: <see cref="StatusAsync"/> reports how the call ended.
    /// </summary>
    public async Task SendAsync(PeerFrame frame)
    {
        try
        {
            await _call.RequestStream.WriteAsync(frame, TestContext.Current.CancellationToken);
        }
        catch (RpcException)
        {
        }
        catch (InvalidOperationException)
        {
        }
    }

    public Task HelloAsync(string nodeId) =>
        SendAsync(new PeerFrame { Hello = new PeerHello { NodeId = nodeId, Nonce = ByteString.CopyFrom(Nonce) } });

    public Task ProofAsync(byte[] signature) =>
        SendAsync(new PeerFrame { Proof = new PeerProof { Signature = ByteString.CopyFrom(signature) } });

    public Task PayloadAsync(byte[] payload) =>
        SendAsync(new PeerFrame { Payloads = new PeerPayloads { Payload = { ByteString.CopyFrom(payload) } } });

    /// <summary>The next frame from the listener; throws the call's RpcException if the listener ended it.</summary>
    public async Task<PeerFrame?> ReadAsync()
    {
        return await _call.ResponseStream.MoveNext(TestContext.Current.CancellationToken) ? _call.ResponseStream.Current : null;
    }

    /// <summary>Reads until the listener ends the call and returns its status code.</summary>
    public async Task<StatusCode> StatusAsync()
    {
        try
        {
            while (await ReadAsync() is not null)
            {
            }

            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    /// <summary>Runs the honest dialer's side of the handshake as <paramref name="dialer"/>, signing with <paramref name="signer"/>.</summary>
    public async Task<PeerFrame?> HandshakeAsync(NodeInfo dialer, Crypto.SigningKey signer, NodeInfo listener)
    {
        await HelloAsync(dialer.Id);
        var challenge = (await ReadAsync())!.Challenge;
        Assert.Equal(listener.Id, challenge.NodeId);
        await ProofAsync(signer.Sign(PeerHandshake.DialerStatement(dialer.ClusterId, dialer.Id, listener.Id, challenge.Nonce.Span)));
        return await ReadAsync();
    }

    public void Dispose()
    {
        _call.Dispose();
        _channel.Dispose();
    }
}
