"""The pipeline's last stage: proves an artifact's core fit for firmware (`edgec check`).

`core_files` finds the core's C units and the bundle's folders; `core_ast` walks them with libclang;
`freestanding` judges that walk (calls, state, VLAs, recursion, headers); `stack_bound` measures the
worst-case stack of the API from the compiler's frame sizes and the call graph; `check` runs both."""
