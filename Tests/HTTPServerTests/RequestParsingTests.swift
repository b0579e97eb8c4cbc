import HTTPServer
import XCTest

/// The request head parser and the reader around it, as pure code: no sockets.
final class RequestHeadTests: XCTestCase {
    func status(_ text: String, _ rules: HTTPRequestRules = HTTPRequestRules(maxBytes: 1000)) -> Int? {
        if case .invalid(let status, _) = HTTPRequestHead.parse(Array(text.utf8), rules: rules) { return status }
        return nil
    }

    func testHeadsAreParsedStrictly() {
        let post = Array("POST /add-checkpoint?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\nbody".utf8)
        XCTAssertEqual(HTTPRequestHead.parse(post, maxBytes: 1000),
                       .complete(HTTPRequestHead(method: "POST", path: "/add-checkpoint", contentLength: 12, keepAlive: true, headLength: post.count - 4)))
        XCTAssertEqual(HTTPRequestHead.parse(Array("POST / HTTP/1.1\r\nHost: a\r\n".utf8), maxBytes: 1000), .incomplete)
        XCTAssertEqual(status("POST / HTTP/1.1\r\n\r\n"), 411)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nContent-Length: 1234567890\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n"), 413)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nExpect: something\r\nContent-Length: 2\r\n\r\n"), 417)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nno colon\r\n\r\n"), 400)
        XCTAssertEqual(HTTPRequestHead.parse([0x47, 0x45, 0x54, 0x20, 0x2F, 0x20, 0xFF, 0x0A, 0x0A], maxBytes: 100), .invalid(status: 400, reason: "the request head is not UTF-8"))
    }

    func testBadRequestLinesAre400() {
        for line in ["GARBAGE", "GET / HTTP/2", "GET /  HTTP/1.1", "GET  / HTTP/1.1", "GET metrics HTTP/1.1", "GET / HTTP/1.1 extra", "GET /", ""] {
            XCTAssertEqual(status(line + "\r\n\r\n"), 400, line.debugDescription)
        }
        XCTAssertNil(status("GET / HTTP/1.0\r\n\r\n"))
    }

    func testConnectionAndVersionDecideKeepAlive() {
        func keepAlive(_ text: String) -> Bool? {
            if case .complete(let head) = HTTPRequestHead.parse(Array(text.utf8), maxBytes: 100) { return head.keepAlive }
            return nil
        }
        XCTAssertEqual(keepAlive("GET / HTTP/1.1\r\n\r\n"), true)
        XCTAssertEqual(keepAlive("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), false)
        XCTAssertEqual(keepAlive("GET / HTTP/1.0\r\n\r\n"), false)
        XCTAssertEqual(keepAlive("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), true)
    }

    func testMethodsOutsideTheRulesAre405BeforeTheirHeaders() {
        let rules = HTTPRequestRules(maxBytes: 100, methods: ["GET", "HEAD"])
        XCTAssertEqual(HTTPRequestHead.parse(Array("POST /metrics HTTP/1.1\r\n\r\n".utf8), rules: rules),
                       .invalid(status: 405, reason: "only GET and HEAD"))
        XCTAssertEqual(status("DELETE / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", rules), 405)
        XCTAssertNil(status("HEAD /metrics HTTP/1.1\r\n\r\n", rules))
        XCTAssertEqual(status("garbage\r\n\r\n", rules), 400, "a bad request line is 400 before its method is looked at")
    }

    func testAHeadOverItsOwnBoundIs431() {
        let rules = HTTPRequestRules(maxBytes: 100, maxHeadBytes: 30)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nX-Filler: aaaaaaaaaaaa\r\n\r\n", rules), 431)
        XCTAssertNil(status("GET / HTTP/1.1\r\nX: a\r\n\r\n", rules))
    }

    /// A head that arrives a byte at a time: each search resumes where the last one stopped (the
    /// reader's way), and finds the same end as one search of the whole, for either ending.
    func testASearchResumedByteByByteFindsTheSameEnd() {
        for text in ["POST /add-checkpoint HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\nbody", "GET /x HTTP/1.1\nHost: a\n\nrest",
                     "GET /y HTTP/1.1\nHost: a\n\r\nrest"] {
            let bytes = Array(text.utf8)
            var scanned = 0
            var result: HTTPRequestHead.Parse = .incomplete
            for count in 1...bytes.count {
                result = HTTPRequestHead.parse(Array(bytes[..<count]), maxBytes: 1000, searchFrom: scanned)
                guard case .incomplete = result else { break }
                scanned = HTTPRequestHead.resumePoint(afterScanning: count)
                XCTAssertLessThanOrEqual(scanned, count)
            }
            XCTAssertEqual(result, HTTPRequestHead.parse(bytes, maxBytes: 1000), text.debugDescription)
            if case .complete = result {} else { XCTFail(text.debugDescription) }
        }
        // What was searched is not searched again: an end before `searchFrom` is not looked at.
        XCTAssertEqual(HTTPRequestHead.parse(Array("GET / HTTP/1.1\r\n\r\n".utf8), maxBytes: 100, searchFrom: 16), .incomplete)
    }
}

final class RequestReaderTests: XCTestCase {
    func testPipelinedRequestsComeOutOneAtATimeWithTheirBodies() {
        var reader = HTTPRequestReader(rules: HTTPRequestRules(maxBytes: 1000))
        reader.append(Array("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b?q HTTP/1.1\r\nConnection: close\r\n\r\nPOST /c HTTP/1.1\r\nContent-Le".utf8))
        XCTAssertEqual(reader.next(), .request(HTTPRequest(method: "POST", path: "/a", body: Array("hello".utf8), keepAlive: true)))
        XCTAssertEqual(reader.next(), .request(HTTPRequest(method: "GET", path: "/b", body: [], keepAlive: false)))
        XCTAssertEqual(reader.next(), .needMore)
        reader.append(Array("ngth: 3\r\n\r\nab".utf8))
        XCTAssertEqual(reader.next(), .needMore, "the body is one byte short")
        reader.append(Array("c".utf8))
        XCTAssertEqual(reader.next(), .request(HTTPRequest(method: "POST", path: "/c", body: Array("abc".utf8), keepAlive: true)))
        XCTAssertEqual(reader.buffered, 0)
        XCTAssertEqual(reader.next(), .needMore)
    }

    func testAHeadTricklingInIsFoundOnce() {
        var reader = HTTPRequestReader(rules: HTTPRequestRules(maxBytes: 1000))
        for byte in "GET /slow HTTP/1.1\r\nHost: a\r\n".utf8 {
            reader.append([byte])
            XCTAssertEqual(reader.next(), .needMore)
        }
        reader.append(Array("\r\n".utf8))
        XCTAssertEqual(reader.next(), .request(HTTPRequest(method: "GET", path: "/slow", keepAlive: true)))
    }

    func testAnUnfinishedHeadIsRefusedOnceOverItsBound() {
        var headBound = HTTPRequestReader(rules: HTTPRequestRules(maxBytes: 64, maxHeadBytes: 64))
        headBound.append(Array("GET /metrics HTTP/1.1\r\nX-Filler: ".utf8))
        XCTAssertEqual(headBound.next(), .needMore)
        headBound.append(Array(repeating: UInt8(ascii: "a"), count: 64))
        XCTAssertEqual(headBound.next(), .refused(status: 431, reason: "request head over 64 bytes"))
        // Without a bound of its own, the head is held to the request's: 413.
        var requestBound = HTTPRequestReader(rules: HTTPRequestRules(maxBytes: 64))
        requestBound.append(Array(("GET /metrics HTTP/1.1\r\nX-Filler: " + String(repeating: "a", count: 64)).utf8))
        XCTAssertEqual(requestBound.next(), .refused(status: 413, reason: "request head over 64 bytes"))
    }

    func testABodyOverTheBoundIsRefusedBeforeItIsRead() {
        var reader = HTTPRequestReader(rules: HTTPRequestRules(maxBytes: 100))
        reader.append(Array("POST / HTTP/1.1\r\nContent-Length: 90\r\n\r\n".utf8))
        XCTAssertEqual(reader.next(), .refused(status: 413, reason: "request over 100 bytes"))
        var exact = HTTPRequestReader(rules: HTTPRequestRules(maxBytes: 100))
        let head = Array("POST / HTTP/1.1\r\nContent-Length: 61\r\n\r\n".utf8)
        XCTAssertEqual(head.count, 39)
        exact.append(head + Array(repeating: UInt8(ascii: "x"), count: 61))
        guard case .request(let request) = exact.next() else { return XCTFail("a request of exactly the bound") }
        XCTAssertEqual(request.body.count, 61)
    }

    func testExpectContinueIsAskedForOnceAndOnlyWhileTheBodyIsMissing() {
        var reader = HTTPRequestReader(rules: HTTPRequestRules(maxBytes: 1000))
        reader.append(Array("POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        XCTAssertEqual(reader.next(), .sendContinue)
        XCTAssertEqual(reader.next(), .needMore)
        reader.append(Array("ok".utf8))
        XCTAssertEqual(reader.next(), .request(HTTPRequest(method: "POST", path: "/a", body: Array("ok".utf8), keepAlive: true)))
        // The body came with the head: nothing to wait for.
        reader.append(Array("POST /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok".utf8))
        XCTAssertEqual(reader.next(), .request(HTTPRequest(method: "POST", path: "/b", body: Array("ok".utf8), keepAlive: true)))
    }
}

final class ResponseTests: XCTestCase {
    func testTheHeadSaysLengthCachingAndWhetherTheConnectionCloses() {
        let response = HTTPResponse(status: 503, text: "not ready\n")
        XCTAssertEqual(
            String(decoding: response.serialized(keepAlive: false), as: UTF8.self),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nnot ready\n")
        let tile = HTTPResponse(status: 200, contentType: "application/octet-stream", body: [1, 2], cacheControl: "public, max-age=31536000, immutable")
        XCTAssertEqual(
            String(decoding: tile.serialized(keepAlive: true, includeBody: false), as: UTF8.self),
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\nCache-Control: public, max-age=31536000, immutable\r\n\r\n")
        XCTAssertEqual(HTTPResponse.reason(431), "Request Header Fields Too Large")
        XCTAssertEqual(HTTPResponse.reason(413), "Content Too Large")
    }
}
