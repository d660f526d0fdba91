export { readShard, ShardFormatError } from './reader';
export { type ShardSet, ShardWriter, writeShard, writeShardSet } from './writer';
export { imageOf, IMAGE_EXTENSIONS, type Sample, splitMemberName, webdatasetKey } from './sample';
