using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Decisions;

/// <summary>
/// 2f+1 commit signatures of distinct members of one cluster, all of one view, over
/// (cluster, view, height, H(header)). One view per certificate is what rules out two QCs at one height.
/// </summary>
public sealed class QuorumCertificate
{
    public const int MaxSigners = 256;

    public QuorumCertificate(ulong view, IReadOnlyList<QcSignature> signatures)
    {
        View = view;
        Signatures = signatures;
    }

    public ulong View { get; }

    public IReadOnlyList<QcSignature> Signatures { get; }

    public int EncodedLength => 8 + 4 + (Signatures.Count * (4 + Crypto.SigningKey.SignatureSize));

    public void Write(CanonicalWriter w)
    {
        w.U64(View);
        w.U32((uint)Signatures.Count);

        // Indexed, not foreach: an enumerator over the IReadOnlyList is an object per encoded QC.
        for (var i = 0; i < Signatures.Count; i++)
        {
            var s = Signatures[i];
            w.U32((uint)s.Signer);
            w.Fixed(s.Signature);
        }
    }

    public static QuorumCertificate Read(ref CanonicalReader r)
    {
        var view = r.U64();
        var count = r.Count(MaxSigners);
        var sigs = new QcSignature[count];
        for (var i = 0; i < count; i++)
        {
            var signer = r.U32();
            if (signer > MaxSigners)
            {
                throw new MalformedMessageException("signer index out of range");
            }

            sigs[i] = new QcSignature((int)signer, r.Fixed(Crypto.SigningKey.SignatureSize).ToArray());
        }

        return new QuorumCertificate(view, sigs);
    }

    /// <summary>Checks the certificate for <paramref name="header"/> against the members of <paramref name="cluster"/>.</summary>
    /// <remarks>With <paramref name="cache"/> (clients only, see <see cref="Crypto.VerifiedSignatureCache"/>), signatures verified before are not verified again.</remarks>
    public QcCheck Verify(ClusterInfo cluster, DecisionHeader header, Crypto.VerifiedSignatureCache? cache = null) =>
        header.Cluster != cluster.Id
            ? QcCheck.WrongCluster
            : VerifySignatures(cluster, VoteKind.Commit, View, header.Height, header.Hash, Signatures, cache);

    /// <summary>Shared by QCs and prepared certificates: distinct members, all valid, at least a quorum.</summary>
    public static QcCheck VerifySignatures(ClusterInfo cluster, VoteKind kind, ulong view, ulong height, Crypto.Hash32 headerHash, IReadOnlyList<QcSignature> signatures, Crypto.VerifiedSignatureCache? cache = null)
    {
        if (signatures.Count < cluster.Quorum)
        {
            return QcCheck.TooFewSignatures;
        }

        Span<bool> seen = stackalloc bool[cluster.N];
        for (var i = 0; i < signatures.Count; i++)
        {
            var s = signatures[i];
            if (s.Signer < 0 || s.Signer >= cluster.N)
            {
                return QcCheck.NonMember;
            }

            if (seen[s.Signer])
            {
                return QcCheck.DuplicateSigner;
            }

            seen[s.Signer] = true;
        }

        var statement = VoteStatement.Bytes(kind, cluster.Id, view, height, headerHash);
        for (var i = 0; i < signatures.Count; i++)
        {
            var s = signatures[i];
            var key = cluster.Nodes[s.Signer].PublicKey;
            if (!(cache?.Verify(key, statement, s.Signature) ?? key.Verify(statement, s.Signature)))
            {
                return QcCheck.BadSignature;
            }
        }

        return QcCheck.Valid;
    }
}
