import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The text of nginx's files. Paths are absolute so that nginx, started by any tracker from any
/// directory, reads the same configuration.
extension Nginx {
    /// The main configuration: daemonized, everything under the data directory, each app's
    /// conf file included.
    func mainConfig() -> String {
        let dir = directory.path
        // As root, nginx would hand its workers to `nobody`, who cannot write the temp paths here.
        let user = geteuid() == 0 ? "user root;\n" : ""
        return """
        # Written by deploy-tracker's process executor at every start.
        \(user)daemon on;
        worker_processes 2;
        pid \(dir)/nginx.pid;
        error_log \(dir)/logs/error.log warn;
        events { worker_connections 4096; }
        http {
            access_log off;
            client_body_temp_path \(dir)/tmp/client_body;
            proxy_temp_path \(dir)/tmp/proxy;
            fastcgi_temp_path \(dir)/tmp/fastcgi;
            uwsgi_temp_path \(dir)/tmp/uwsgi;
            scgi_temp_path \(dir)/tmp/scgi;
            # One line per request: time, every upstream tried, the answer, each upstream's answer.
            log_format fleet '$msec\\t$upstream_addr\\t$status\\t$upstream_status';
            include \(dir)/control.conf;
            include \(dir)/apps/*.conf;
        }

        """
    }

    /// The control server whose answer tells which configuration the workers run.
    func controlConfig(generation: Int) -> String {
        """
        # generation \(generation)
        server {
            listen 127.0.0.1:\(controlPort);
            location = /generation { return 200 "\(generation)"; }
        }

        """
    }

    /// One app: its upstream (replicas with weights) and its server on the app's stable port.
    func appConfig(_ key: AppKey, port: Int, servers: [(address: String, weight: Int)]) -> String {
        let upstream = "app_\(key.slug)"
        // An upstream needs a server; an app with none answers 502 at once rather than failing the test.
        let members = servers.isEmpty
            ? "    server 127.0.0.1:1 down;\n"
            : servers.map { "    server \($0.address) weight=\($0.weight) max_fails=1 fail_timeout=2s;\n" }.joined()
        return """
        # \(key): written by deploy-tracker
        upstream \(upstream) {
        \(members)    keepalive 16;
        }
        server {
            listen 127.0.0.1:\(port);
            # No client keep-alive: a reload's old workers close idle kept-alive connections, and
            # a client that sent its next request on one at that moment sees it fail (measured:
            # ~20 read errors per rolling update under wrk). One connection per request is the
            # price of zero failed requests across reloads.
            keepalive_timeout 0;
            access_log \(accessLogPath(key)) fleet;
            location / {
                proxy_pass http://\(upstream);
                proxy_http_version 1.1;
                proxy_set_header Connection "";
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-For $remote_addr;
                proxy_connect_timeout 2s;
                proxy_next_upstream error timeout http_502 http_503;
                proxy_next_upstream_tries 3;
            }
        }

        """
    }

    func appConfigFile(_ key: AppKey) -> URL { directory.appendingPathComponent("apps/\(key.slug).conf") }
    func accessLogPath(_ key: AppKey) -> String { directory.path + "/logs/\(key.slug).access.log" }

    /// `app -> port` and the control port, kept in `ports.json` so that each app keeps its
    /// address across restarts.
    struct PortMap: Codable {
        var control: Int?
        var apps: [String: Int] = [:]
    }

    static func firstFreePort(in range: ClosedRange<Int>, excluding taken: Set<Int>) -> Int? {
        range.first { !taken.contains($0) && ChildProcess.portIsFree($0) }
    }
}
