/// One answer.
public struct HTTPResponse: Equatable, Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// The Cache-Control header (`no-store` unless the handler knows how long the answer holds).
    public var cacheControl: String

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8], cacheControl: String = "no-store") {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.cacheControl = cacheControl
    }

    public init(status: Int, text: String) {
        self.init(status: status, body: Array(text.utf8))
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The bytes on the wire; without the body for a HEAD request (the head still gives its length).
    public func serialized(keepAlive: Bool, includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nCache-Control: \(cacheControl)\r\n"
        head += keepAlive ? "\r\n" : "Connection: close\r\n\r\n"
        return Array(head.utf8) + (includeBody ? body : [])
    }

    /// The reason phrase of the statuses these servers give.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Entity"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}
