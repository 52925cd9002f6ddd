/// The expression language shared by stream mappings (LQL) and audience definitions (FilterQL).
///
/// The lexer, parser and evaluator arrive with the QL issue; this namespace fixes the module's
/// place in the package so that Model-level code can depend on it from the start.
public enum QL {
    /// Version of the language implementation, reported by `cdp version`.
    public static let languageVersion = "0"
}
