/// The product version, reported by every executable.
public enum CDPVersion {
    public static let current = "0.1.0"
}
