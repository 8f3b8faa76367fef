namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// One operation as a client saw it: invoked at <see cref="InvokeTicks"/>, answered at
/// <see cref="ReturnTicks"/>. A pending operation (the client gave up waiting) has no output and
/// returns at <see cref="long.MaxValue"/>: it may have taken effect at any point after its
/// invocation, or never, which is the same as taking effect after everything else.
/// </summary>
public sealed record HistoryOperation
{
    private HistoryOperation(int clientId, KvInput input, KvOutput? output, long invokeTicks, long returnTicks)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (returnTicks < invokeTicks)
        {
            throw new ArgumentOutOfRangeException(nameof(returnTicks), $"returned at {returnTicks} before it was invoked at {invokeTicks}");
        }

        ClientId = clientId;
        Input = input;
        Output = output;
        InvokeTicks = invokeTicks;
        ReturnTicks = returnTicks;
    }

    public int ClientId { get; }

    public KvInput Input { get; }

    /// <summary>The answer; null while the operation is pending.</summary>
    public KvOutput? Output { get; }

    public long InvokeTicks { get; }

    public long ReturnTicks { get; }

    public bool IsPending => Output is null;

    public static HistoryOperation Completed(int clientId, long invokeTicks, long returnTicks, KvInput input, KvOutput output) =>
        new(clientId, input, output ?? throw new ArgumentNullException(nameof(output)), invokeTicks, returnTicks);

    public static HistoryOperation Pending(int clientId, long invokeTicks, KvInput input) =>
        new(clientId, input, null, invokeTicks, long.MaxValue);

    public override string ToString() => IsPending
        ? $"client {ClientId} [{InvokeTicks}, pending] {Input} -> ?"
        : $"client {ClientId} [{InvokeTicks}, {ReturnTicks}] {Input} -> {Output}";
}
