using Heraclius.KvStore.Client;

namespace Heraclius.Ledger.Client;

/// <summary>A request the ledger could not take as sent: a malformed request, or a session error the caller must not retry blindly.</summary>
public sealed class LedgerClientException : Exception
{
    public LedgerClientException()
    {
    }

    public LedgerClientException(string message) : base(message)
    {
    }

    public LedgerClientException(string message, Exception inner) : base(message, inner)
    {
    }

    public LedgerClientException(ReplyStatus status, string message) : base(message)
    {
        Status = status;
    }

    /// <summary>The reply status, when the session refused the request.</summary>
    public ReplyStatus? Status { get; }
}
