using System.Diagnostics;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>The steps and time left to one check, shared by the searches of all its keys.</summary>
internal sealed class SearchBudget
{
    // Reading the clock costs more than a step, so it is read once per this many steps.
    private const int ClockInterval = 1024;

    private readonly long _maxSteps;
    private readonly long _startTicks;
    private readonly TimeSpan _maxTime;

    public SearchBudget(CheckBudget budget)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(budget.MaxSteps);
        _maxSteps = budget.MaxSteps;
        _maxTime = budget.MaxTime;
        _startTicks = Stopwatch.GetTimestamp();
    }

    public long Steps { get; private set; }

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_startTicks);

    /// <summary>Spends one step; false when the budget is exhausted.</summary>
    public bool TrySpend()
    {
        if (Steps >= _maxSteps)
        {
            return false;
        }

        Steps++;
        return Steps % ClockInterval != 0 || Elapsed <= _maxTime;
    }
}
