export { readShard, ShardFormatError } from './reader';
export { ShardWriter, writeShard } from './writer';
export { imageOf, IMAGE_EXTENSIONS, type Sample, splitMemberName } from './sample';
