"""Official gRPC (python3-grpcio) client used by the interop tests.

Messages are passed as raw protobuf bytes (hex on the command line, identity serializers),
so no generated python code is needed; the C# test encodes requests and decodes replies.

usage: interop_client.py TARGET unary  METHOD REQUEST_HEX [TIMEOUT_SECONDS]
       interop_client.py TARGET stream METHOD REQUEST_HEX [TIMEOUT_SECONDS]
output: "OK <hex>" / "MSG <hex>" lines, then "END OK", or "ERR <STATUS_NAME> <details>".
"""
import sys

import grpc


def identity(data):
    return data


def main():
    target, mode, method, request_hex = sys.argv[1:5]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 20.0
    request = bytes.fromhex(request_hex)
    with grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)]) as channel:
        try:
            if mode == "unary":
                call = channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
                reply = call(request, timeout=timeout)
                print("OK " + reply.hex())
            elif mode == "stream":
                call = channel.unary_stream(method, request_serializer=identity, response_deserializer=identity)
                for reply in call(request, timeout=timeout):
                    print("MSG " + reply.hex())
                print("END OK")
            else:
                print("bad mode " + mode, file=sys.stderr)
                return 2
        except grpc.RpcError as error:
            print("ERR " + error.code().name + " " + (error.details() or ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
