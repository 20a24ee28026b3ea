import { errorMessage } from '@meridian/model';
import type * as protobuf from 'protobufjs';
import { protoType } from './protos.ts';

/**
 * A request whose bytes do not decode as its message type. grpc-js answers a throwing
 * deserializer with INTERNAL, which blames the server; returning this instead lets the
 * handler answer INVALID_ARGUMENT, which is what the caller got wrong.
 */
export class MalformedRequest {
  readonly details: string;
  constructor(typeName: string, err: unknown) {
    this.details = `malformed ${typeName.slice(typeName.lastIndexOf('.') + 1)}: ${errorMessage(err)}`;
  }
}

/** Encoder and decoder of one request type, in the snake_case shape the handlers read. */
export function requestCodec(
  typeName: string,
  options: protobuf.IConversionOptions,
): { serialize: (value: object) => Buffer; deserialize: (bytes: Buffer) => object } {
  const type = protoType(typeName);
  return {
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes) => {
      try {
        return type.toObject(type.decode(bytes), options);
      } catch (err) {
        return new MalformedRequest(typeName, err);
      }
    },
  };
}
