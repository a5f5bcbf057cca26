namespace PaymentFunctions;

/// <summary>A setting is missing or malformed; the message names it and the expected form, never its value.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
