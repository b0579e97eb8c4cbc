import Foundation

/// Ports on 127.0.0.1 for tests that need one nothing else uses: the kernel's pick for a socket
/// bound to port 0.
public enum LoopbackPort {
    /// A port nothing listens on now (bound, then closed).
    public static func free() throws -> UInt16 {
        let (fd, port) = try bound()
        close(fd)
        return port
    }

    /// A port that accepts connections into its backlog and never reads or answers; the caller
    /// closes `fd`.
    public static func silent() throws -> (fd: Int32, port: UInt16) {
        let (fd, port) = try bound()
        guard listen(fd, 16) == 0 else {
            close(fd)
            throw TestEnvironmentError(description: "cannot listen on 127.0.0.1:\(port)")
        }
        return (fd, port)
    }

    private static func bound() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestEnvironmentError(description: "no socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw TestEnvironmentError(description: "no free port on 127.0.0.1")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
