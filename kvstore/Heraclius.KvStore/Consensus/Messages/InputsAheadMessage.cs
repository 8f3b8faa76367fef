using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// A leader's inputs for the next height, sent the moment it has chosen them and before it executes them:
/// envelope ‖ u64 view ‖ u64 height ‖ H(previous header) ‖ bytes inputs. Followers execute them while the
/// leader does, so a round no longer waits for one execution after another; the pre-prepare that follows
/// names the same inputs by its header's digest (see <see cref="PrePrepareForm.HeaderOnly"/>) and is all anyone votes on. Unsigned, and binding no one: the transport
/// authenticated the sender, and a follower keeps what it computed only when the pre-prepare's inputs are
/// these bytes and its outputs are what they gave.
/// </summary>
public static class InputsAheadMessage
{
    public static byte[] Encode(int sender, ulong view, ulong height, Hash32 previousHeader, ReadOnlySpan<byte> inputs)
    {
        var w = Envelope.Begin(MessageType.InputsAhead, sender, Envelope.Size(MessageType.InputsAhead, 8 + 8 + Hash32.Size + 4 + inputs.Length));
        w.U64(view);
        w.U64(height);
        w.Hash(previousHeader);
        w.Bytes(inputs);
        return w.Detach();
    }

    /// <summary>Reads the body (the envelope opened); the inputs are a slice of <paramref name="body"/>. Throws when malformed.</summary>
    public static InputsAhead Read(ReadOnlyMemory<byte> body)
    {
        var r = CanonicalReader.Over(body);
        var view = r.U64();
        var height = r.U64();
        var previous = r.Hash();
        var inputs = r.BytesMemory(Proposal.MaxInputBytes);
        r.End();
        return new InputsAhead(view, height, previous, inputs);
    }
}
