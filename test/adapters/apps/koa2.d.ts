// Types of the `koa2` test alias (npm:koa@2): the same API as Koa 3 as far as the adapter uses it.

declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
