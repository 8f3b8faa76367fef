using System.Buffers.Binary;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>A service with one deadline: a request (u64 delay ms) sets it that far past its decision; the timer run records when it fired.</summary>
internal sealed class DeadlineService : IReplicatedService
{
    public static readonly byte[] DeadlineKey = [0x44];
    public static readonly byte[] FiredKey = [0x46];

    public static byte[] U64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    public RequestOutcome ExecuteRequest(IStateAccess state, in StateMachine.ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs)
    {
        state.Put(DeadlineKey, U64(context.Timestamp + BinaryPrimitives.ReadUInt64LittleEndian(operation)));
        return RequestOutcome.Answered([]);
    }

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
    }

    public void ExecuteTimers(IStateAccess state, in TimerContext context, IServiceOutputs outputs)
    {
        if (state.Get(DeadlineKey) is { } d && context.Timestamp >= BinaryPrimitives.ReadUInt64LittleEndian(d))
        {
            state.Delete(DeadlineKey);
            state.Put(FiredKey, U64(context.Timestamp));
        }
    }

    public ulong NextTimerDue(IStateAccess state) =>
        state.Get(DeadlineKey) is { } d ? BinaryPrimitives.ReadUInt64LittleEndian(d) : ulong.MaxValue;
}
