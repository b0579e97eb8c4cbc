import CVersion

/// The release consultd and consultctl report with `--version`.
///
/// To release a new version, change `number` here (the one place it is written; `scripts/package`
/// reads it back from the built `consultd --version` for the .deb) and commit.
public enum ConsultdVersion {
    /// Semantic version of the package.
    public static let number = "0.16.0"

    /// The git commit of the build (short hash), or "unknown" when the build was not told
    /// (`scripts/package` tells it; a plain `swift build` does not).
    public static var commit: String {
        let value = String(cString: consultd_commit())
        return value.isEmpty ? "unknown" : value
    }

    /// What `--version` prints after the program's name, e.g. "0.16.0 (commit 1a2b3c4)".
    public static var description: String { "\(number) (commit \(commit))" }
}
