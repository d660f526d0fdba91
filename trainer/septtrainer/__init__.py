"""septflow's reference trainer; run as `python -m septtrainer <stage> --config <file.json>`."""
