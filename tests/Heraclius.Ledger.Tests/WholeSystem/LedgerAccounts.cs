using Heraclius.Ledger.Client;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>
/// The accounts of a whole-system test: per ledger, its issuance account (id = ledger number) and
/// <c>perShard</c> customers on every shard, each with the default limit (its balance cannot go below
/// zero), funded from the issuance account. Ids are chosen by where the router places them, so a test
/// can pick a same-shard or a cross-shard pair at will.
/// </summary>
public sealed class LedgerAccounts
{
    public const ushort Code = 1;

    public static readonly uint[] Ledgers = [1, 2];

    private readonly Dictionary<uint, Dictionary<string, UInt128[]>> _customers = [];
    private readonly Dictionary<UInt128, (uint Ledger, string Shard)> _where = [];
    private readonly Dictionary<UInt128, AccountFlags> _extra = [];
    private readonly LedgerSystem _system;

    public LedgerAccounts(LedgerSystem system, int perShard, AccountFlags customerFlags = AccountFlags.DebitsMustNotExceedCredits)
    {
        _system = system;
        CustomerFlags = customerFlags;
        Shards = LedgerSystem.ShardIds;
        foreach (var ledger in Ledgers)
        {
            _where[ledger] = (ledger, system.ShardOf(ledger));
            var byShard = Shards.ToDictionary(s => s, _ => new List<UInt128>(), StringComparer.Ordinal);
            for (var i = 1UL; byShard.Values.Any(l => l.Count < perShard); i++)
            {
                UInt128 id = (ledger * 1_000_000UL) + i;
                var list = byShard[system.ShardOf(id)];
                if (list.Count < perShard)
                {
                    list.Add(id);
                    _where[id] = (ledger, system.ShardOf(id));
                }
            }

            _customers[ledger] = byShard.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);
        }

        // Never created: ids past every range the constructor drew from.
        Unknown = [.. Enumerable.Range(1, 16).Select(i => (UInt128)(9_000_000UL + (ulong)i))];
    }

    public AccountFlags CustomerFlags { get; }

    public string[] Shards { get; }

    /// <summary>Ids no account was created with.</summary>
    public UInt128[] Unknown { get; }

    public IEnumerable<UInt128> All => _where.Keys;

    public static UInt128 Issuance(uint ledger) => ledger;

    public UInt128[] CustomersOn(uint ledger, string shard) => _customers[ledger][shard];

    public IEnumerable<UInt128> Customers(uint ledger) => Shards.SelectMany(s => _customers[ledger][s]);

    public IEnumerable<UInt128> AllCustomers => Ledgers.SelectMany(Customers);

    public uint LedgerOf(UInt128 id) => _where[id].Ledger;

    public string ShardOf(UInt128 id) => _where[id].Shard;

    public static bool IsIssuance(UInt128 id) => id <= Ledgers[^1];

    /// <summary>
    /// An account of a test's own beside the customers (created with them, audited with them, never
    /// funded or picked by the workload): the first id from <paramref name="from"/> up that lies on <paramref name="shard"/>.
    /// </summary>
    public UInt128 AddOwn(uint ledger, string shard, AccountFlags flags, ulong from = 3_000_000)
    {
        var id = (UInt128)from;
        while (_where.ContainsKey(id) || _system.ShardOf(id) != shard)
        {
            id++;
        }

        _where[id] = (ledger, shard);
        _extra[id] = flags;
        return id;
    }

    public Account CreateRequest(UInt128 id) =>
        IsIssuance(id) ? Account.Create(id, (uint)id, Code, id, AccountFlags.Issuance | AccountFlags.History)
        : _extra.TryGetValue(id, out var flags) ? Account.Create(id, LedgerOf(id), Code, id, flags)
        : Account.Create(id, LedgerOf(id), Code, id, CustomerFlags);

    /// <summary>
    /// Creates every account (spread over the clients) and fails unless each answer is Ok, or Exists: a
    /// create retried after a timeout finds the account its first attempt made, with the same fields.
    /// </summary>
    public async Task CreateAsync(LedgerSystem system, IReadOnlyList<LedgerClient> clients)
    {
        var ids = All.ToArray();
        var results = await Task.WhenAll(ids.Select((id, i) => system.UntilAnsweredAsync(
            ct => clients[i % clients.Count].CreateAccountAsync(CreateRequest(id), ct), () => $"create account {id}")));
        for (var i = 0; i < ids.Length; i++)
        {
            Assert.True(results[i] is CreateAccountResult.Ok or CreateAccountResult.Exists, $"account {ids[i]}: {results[i]}");
        }
    }

    /// <summary>Funds every customer with <paramref name="amount"/> from its ledger's issuance account.</summary>
    public async Task FundAsync(LedgerSystem system, IReadOnlyList<LedgerClient> clients, TransferBook book, ulong amount)
    {
        var customers = AllCustomers.ToArray();
        var results = await Task.WhenAll(customers.Select((id, i) =>
        {
            var ledger = LedgerOf(id);
            return system.SendChainAsync(clients[i % clients.Count], [Transfers.Plain(book.NextId(), Issuance(ledger), id, amount, ledger)], book);
        }));
        for (var i = 0; i < customers.Length; i++)
        {
            Assert.True(results[i][0] == CreateTransferResult.Ok, $"funding {customers[i]}: {results[i][0]}");
        }
    }
}
