using Heraclius.Node.Commands;

return await Cli.RunAsync(args);
