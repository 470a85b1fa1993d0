"""The pipeline run as its real processes on the local services (``pipeline``): a run's own
resources (``provision``), the capture engine and the KCL daemon as processes
(``capture_process``, ``kcl``), what the run has done (``observe``) and the faults injected
into it (``faults``, ``tcp_proxy``). The end-to-end tests, the benchmarks and the demo use it."""
