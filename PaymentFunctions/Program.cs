using Microsoft.Extensions.Options;
using PaymentFunctions;

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddApplicationServices();
    var app = builder.Build();
    app.MapApplicationEndpoints();
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is OptionsValidationException or ConfigurationException)
{
    // One line naming what is wrong, no stack trace, no secret values, and a non-zero exit.
    var message = ex is OptionsValidationException v ? string.Join(" ", v.Failures) : ex.Message;
    await Console.Error.WriteLineAsync($"PaymentFunctions cannot start: {message}");
    return 1;
}

public partial class Program;
