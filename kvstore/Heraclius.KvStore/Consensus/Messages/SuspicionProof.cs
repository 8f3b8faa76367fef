using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// The suspicions a VIEW-CHANGE(v+1) carries, all of view v: its sender's own, and the other members' it changed view
/// on (none when it changed for another cause). Body: u64 view ‖ sig64 sender ‖ u32 n ‖ (u32 member ‖ sig64)^n.
/// Any f+1 members include an honest one, so f+1 of them (each checked) move a member still in view v as its own
/// f+1 would: the proof travels with the VIEW-CHANGE, and a member that leaves a view takes the others along.
/// </summary>
public sealed class SuspicionProof
{
    /// <summary>No cluster has more members (the replica's per-member arrays are this long).</summary>
    public const int MaxEntries = 256;

    private const int EntrySize = 4 + SigningKey.SignatureSize;

    public SuspicionProof(ulong view, byte[] senderSignature, IReadOnlyList<SignedSuspicion> others)
    {
        View = view;
        SenderSignature = senderSignature;
        Others = others;
    }

    /// <summary>The view whose leader every signature suspects: the one below the VIEW-CHANGE's.</summary>
    public ulong View { get; }

    public byte[] SenderSignature { get; }

    /// <summary>Other members' suspicions, ascending by member as written.</summary>
    public IReadOnlyList<SignedSuspicion> Others { get; }

    public int EncodedLength => 8 + SigningKey.SignatureSize + 4 + (Others.Count * EntrySize);

    public void Write(CanonicalWriter w)
    {
        w.U64(View);
        w.Fixed(SenderSignature);
        w.U32((uint)Others.Count);
        for (var i = 0; i < Others.Count; i++)
        {
            w.U32((uint)Others[i].Member);
            w.Fixed(Others[i].Signature);
        }
    }

    /// <summary>Reads the encoding; what the entries say (members, order, signatures) the replica checks.</summary>
    public static SuspicionProof Read(ref CanonicalReader r)
    {
        var view = r.U64();
        var own = r.Fixed(SigningKey.SignatureSize).ToArray();
        var count = r.Count(MaxEntries);
        if (count * EntrySize > r.Remaining)
        {
            throw new MalformedMessageException("suspicion proof shorter than its count");
        }

        var others = new SignedSuspicion[count];
        for (var i = 0; i < count; i++)
        {
            var member = r.U32();
            if (member >= MaxEntries)
            {
                throw new MalformedMessageException("suspicion of a member out of range");
            }

            others[i] = new SignedSuspicion((int)member, r.Fixed(SigningKey.SignatureSize).ToArray());
        }

        return new SuspicionProof(view, own, others);
    }
}
