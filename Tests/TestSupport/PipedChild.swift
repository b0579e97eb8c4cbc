import Foundation

/// A program started with its output on a pipe the test reads (and standard input from /dev/null).
public enum PipedChild {
    /// What goes to the pipe; standard output goes to /dev/null when only standard error is wanted.
    public enum Outputs: Sendable {
        case standardError
        case standardOutputAndError
    }

    /// Spawns `path` (also its argv[0]) with `arguments` and the test's environment plus `environment`;
    /// `ownProcessGroup` starts it in a process group of its own, as a terminal would, so that a
    /// signal to the group reaches everything it starts. Returns its pid and the pipe's read end.
    public static func spawn(
        _ path: String, _ arguments: [String], outputs: Outputs = .standardOutputAndError, environment: [String: String] = [:],
        ownProcessGroup: Bool = false
    ) throws -> (pid: pid_t, output: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestEnvironmentError(description: "pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch outputs {
        case .standardError: posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        case .standardOutputAndError: posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if ownProcessGroup {
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            throw TestEnvironmentError(description: "cannot start \(path): \(String(cString: strerror(spawned)))")
        }
        return (child, fds[0])
    }
}
