"""Official gRPC (python3-grpcio) client driving the real coordinator in the coordinator interop tests.

Like tests/Grpc.Tests/interop_client.py it passes raw protobuf bytes (identity serializers, no generated code),
but reads the request as hex from stdin (uploads are too large for one command-line argument), sends an optional
bearer token as "authorization" metadata, and can stop a server stream once a message contains given bytes.

usage: interop_coordinator.py TARGET unary  METHOD TOKEN|- TIMEOUT_SECONDS          < REQUEST_HEX
       interop_coordinator.py TARGET stream METHOD TOKEN|- TIMEOUT_SECONDS [STOP_HEX] < REQUEST_HEX
output: "OK <hex>" / "MSG <hex>" lines, then "END OK" (stream ended) or "END STOP" (a message contained
STOP_HEX; the call was cancelled), or "ERR <STATUS_NAME> <details>".
"""
import sys

import grpc


def identity(data):
    return data


def main():
    target, mode, method, token, timeout = sys.argv[1:6]
    stop = bytes.fromhex(sys.argv[6]) if len(sys.argv) > 6 else None
    timeout = float(timeout)
    request = bytes.fromhex(sys.stdin.read().strip())
    metadata = [] if token == "-" else [("authorization", "Bearer " + token)]
    options = [("grpc.enable_http_proxy", 0), ("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    with grpc.insecure_channel(target, options=options) as channel:
        try:
            if mode == "unary":
                call = channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
                reply = call(request, timeout=timeout, metadata=metadata)
                print("OK " + reply.hex(), flush=True)
            elif mode == "stream":
                call = channel.unary_stream(method, request_serializer=identity, response_deserializer=identity)
                replies = call(request, timeout=timeout, metadata=metadata)
                for reply in replies:
                    print("MSG " + reply.hex(), flush=True)
                    if stop is not None and stop in reply:
                        replies.cancel()
                        print("END STOP", flush=True)
                        return 0
                print("END OK", flush=True)
            else:
                print("bad mode " + mode, file=sys.stderr)
                return 2
        except grpc.RpcError as error:
            print("ERR " + error.code().name + " " + (error.details() or ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
