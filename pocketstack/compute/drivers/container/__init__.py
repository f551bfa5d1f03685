"""The container compute driver (``pocketstack up --driver container``); see driver.py."""
